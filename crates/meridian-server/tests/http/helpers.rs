//! A region `fx` served in process; its mail goes to aiosmtpd.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use meridian_core::{Digest, DigestItem, Insight, RegionId, ScoreComponents};
use meridian_runtime::{AssembleOptions, Region};
use meridian_server::{AppState, Application, router};
use meridian_testkit::{ReceivedEmail, SmtpServer};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tower::ServiceExt as _;

/// Not a shipped region: no `MERIDIAN_US__…` variable reaches it.
pub const REGION: &str = "fx";
/// The public base URL the region's links use (the test reaches the same
/// routes on its loopback port).
pub const BASE_URL: &str = "https://fx.example";

/// A region on disk, assembled.
pub struct TestRegion {
    pub region: Arc<Region>,
    pub smtp: Option<SmtpServer>,
    _config: TempDir,
    _data: TempDir,
}

impl TestRegion {
    /// Region `fx` in `locale`; mail to a fresh aiosmtpd when `smtp`, else to an outbox.
    pub async fn new(locale: &str, smtp: bool) -> Self {
        let smtp = smtp.then(SmtpServer::start);
        let config = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let smtp_url = smtp.as_ref().map(SmtpServer::url).unwrap_or_default();
        let toml = format!(
            r#"id = "{REGION}"
name = "Flow test"
jurisdiction = "DE"
locale = "{locale}"
timezone = "Europe/Berlin"

[storage]
url = "sqlite://{{data_dir}}/{REGION}.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[mail]
smtp_url = "{smtp_url}"
from = "Meridian <digest@fx.example>"
ai_label = "KI-generiert: automatisch ausgewählt und zusammengefasst."
max_per_second = 50
retry_delay_ms = 10

[server]
base_url = "{BASE_URL}"
"#
        );
        std::fs::write(config.path().join(format!("{REGION}.toml")), toml).unwrap();
        let cfg = meridian_config::load_region(
            config.path(),
            data.path(),
            &RegionId::parse(REGION).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let region = Arc::new(
            Region::assemble(cfg, &AssembleOptions::default())
                .await
                .unwrap(),
        );
        Self {
            region,
            smtp,
            _config: config,
            _data: data,
        }
    }

    /// One request through `router(state)`, without a socket.
    pub async fn oneshot(
        &self,
        request: Request<Body>,
    ) -> (axum::http::StatusCode, axum::http::HeaderMap, String) {
        let response = router(AppState::new(Arc::clone(&self.region)))
            .oneshot(request)
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// Stores a one-insight digest for `date`.
    pub async fn store_digest(&self, date: chrono::NaiveDate) {
        let digest = Digest {
            region: RegionId::parse(REGION).unwrap(),
            date,
            items: vec![DigestItem {
                podcast: "Circuit Breakers".to_owned(),
                episode: "Grid batteries".to_owned(),
                episode_url: Some("https://pod.example/1".to_owned()),
                insight: Insight {
                    text: "Grid batteries now shift solar power into the evening peak.".to_owned(),
                    quote: "By six pm the batteries carry a third of the load.".to_owned(),
                    start: Some(754.0),
                    importance: 0.8,
                    why: String::new(),
                    model: "builtin".to_owned(),
                },
                score: ScoreComponents {
                    importance: 0.8,
                    novelty: 0.9,
                    recency: 0.7,
                    total: 0.8,
                },
                language: Some("en".to_owned()),
            }],
        };
        self.region
            .store()
            .create_digest(&digest, &[], 100)
            .await
            .unwrap();
    }

    /// Waits (at most 30 s) until `address` has received `n` emails; returns them.
    pub async fn wait_for_mail(&self, address: &str, n: usize) -> Vec<ReceivedEmail> {
        let smtp = self.smtp.as_ref().unwrap();
        for _ in 0..300 {
            let got = smtp.messages_to(address);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{address} did not receive {n} email(s) within 30 s; got {}",
            smtp.messages_to(address).len()
        );
    }
}

/// The service running on a loopback port; stopped on drop of the sender.
pub struct Served {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), meridian_server::ServerError>>,
}

impl Served {
    pub async fn start(region: &TestRegion) -> Self {
        let app = Application::build(Arc::clone(&region.region), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = app.local_addr();
        assert_ne!(addr.port(), 0, "port 0 was resolved by binding first");
        let (tx, rx) = oneshot::channel::<()>();
        #[expect(
            clippy::disallowed_methods,
            reason = "the served app is owned by `Served` and joined in `stop`"
        )]
        let task = tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            stop: Some(tx),
            task,
        }
    }

    /// Triggers the graceful shutdown and waits for it.
    pub async fn stop(mut self) -> Result<(), meridian_server::ServerError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await.unwrap()
    }
}

/// The path and query of one of the region's links (`https://fx.example/x?y` → `/x?y`).
pub fn local_target(link: &str) -> String {
    link.strip_prefix(BASE_URL)
        .unwrap_or_else(|| panic!("not a link of the region: {link}"))
        .to_owned()
}
