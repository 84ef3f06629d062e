//! Test servers (axum for ordinary routes, raw TCP for odd responses) and client set-up.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::Response;
use meridian_core::RegionId;
use meridian_egress::{
    EgressClient, EgressError, EgressOptions, EgressRules, FetchOutcome, Fetched, Validators,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// Every request an axum test server received: path and headers.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<(String, HeaderMap)>>>);

impl Seen {
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    pub fn paths(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// The value of `name` in the `index`th request.
    pub fn header(&self, index: usize, name: &str) -> Option<String> {
        let seen = self.0.lock().unwrap();
        let (_, headers) = seen.get(index)?;
        headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }
}

async fn record(State(seen): State<Seen>, request: Request, next: Next) -> Response {
    let entry = (request.uri().path().to_owned(), request.headers().clone());
    seen.0.lock().unwrap().push(entry);
    next.run(request).await
}

/// Serves `router` on an ephemeral loopback port.
pub async fn spawn_axum(router: Router) -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let app = router.layer(middleware::from_fn_with_state(seen.clone(), record));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    #[expect(
        clippy::disallowed_methods,
        reason = "a test server that lives as long as the test"
    )]
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

/// Accepts connections on an ephemeral loopback port and hands each to `serve`;
/// counts accepted connections.
pub async fn spawn_raw<F, Fut>(serve: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    #[expect(
        clippy::disallowed_methods,
        reason = "a test server that lives as long as the test"
    )]
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            #[expect(
                clippy::disallowed_methods,
                reason = "a test server that lives as long as the test"
            )]
            tokio::spawn(serve(socket));
        }
    });
    (addr, hits)
}

/// Reads a request head (up to the blank line) and returns it.
pub async fn read_head(socket: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Writes `bytes`, ignoring a client that hung up.
pub async fn write(socket: &mut TcpStream, bytes: &[u8]) -> bool {
    socket.write_all(bytes).await.is_ok()
}

pub fn hits(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

pub fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

pub fn rules(allow: &[&str], allow_private: bool) -> EgressRules {
    let allow: Vec<String> = allow.iter().map(|s| (*s).to_owned()).collect();
    EgressRules::new(&allow, allow_private).unwrap()
}

pub fn client_with(allow: &[&str], allow_private: bool, options: EgressOptions) -> EgressClient {
    EgressClient::new(
        RegionId::parse("us").unwrap(),
        rules(allow, allow_private),
        options,
    )
    .unwrap()
}

pub fn client(allow: &[&str]) -> EgressClient {
    client_with(allow, false, EgressOptions::default())
}

/// Options with short timeouts, for tests whose server stalls.
pub fn short_timeouts() -> EgressOptions {
    EgressOptions {
        connect_timeout: Duration::from_millis(300),
        total_timeout: Duration::from_millis(300),
        ..EgressOptions::default()
    }
}

pub async fn get(client: &EgressClient, target: &str) -> Result<FetchOutcome, EgressError> {
    client.get(&url(target), &Validators::default(), None).await
}

pub fn fetched(outcome: FetchOutcome) -> Fetched {
    match outcome {
        FetchOutcome::Fetched(fetched) => fetched,
        FetchOutcome::NotModified { final_url, .. } => {
            panic!("expected a body, got 304 from {final_url}")
        }
    }
}
