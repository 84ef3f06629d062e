//! A region `fx` served in process; its mail goes to aiosmtpd.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use meridian_core::{Digest, DigestItem, Insight, RegionId, ScoreComponents};
use meridian_runtime::{AssembleOptions, Region};
use meridian_server::{AppState, Application, ServeOptions, router};
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
        Self::with_base_url(locale, smtp, BASE_URL).await
    }

    /// As [`TestRegion::new`], with `base_url` in its links (e.g. the
    /// loopback address a browser will open them at).
    pub async fn with_base_url(locale: &str, smtp: bool, base_url: &str) -> Self {
        Self::build(REGION, locale, smtp, base_url, "").await
    }

    /// Region `id` in `locale`, its file ending with `extra` (TOML tables).
    pub async fn with(id: &str, locale: &str, smtp: bool, extra: &str) -> Self {
        Self::build(id, locale, smtp, BASE_URL, extra).await
    }

    /// The region file is `regions/<id>.toml` in a fresh folder whose
    /// `policies` is the repository's, as in a checkout.
    async fn build(id: &str, locale: &str, smtp: bool, base_url: &str, extra: &str) -> Self {
        let smtp = smtp.then(SmtpServer::start);
        let config = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let smtp_url = smtp.as_ref().map(SmtpServer::url).unwrap_or_default();
        let regions = config.path().join("regions");
        std::fs::create_dir_all(&regions).unwrap();
        // The repository's global policies and schema, and an empty folder
        // for the region (global rules only).
        let repo_policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let policies = config.path().join("policies");
        std::fs::create_dir_all(policies.join(id)).unwrap();
        for shared in ["global", "schema.cedarschema"] {
            std::os::unix::fs::symlink(repo_policies.join(shared), policies.join(shared)).unwrap();
        }
        let toml = format!(
            r#"id = "{id}"
name = "Flow test"
jurisdiction = "DE"
locale = "{locale}"
timezone = "Europe/Berlin"

[storage]
url = "sqlite://{{data_dir}}/{id}.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[mail]
smtp_url = "{smtp_url}"
from = "Meridian <digest@fx.example.com>"
ai_label = "KI-generiert: automatisch ausgewählt und zusammengefasst."
max_per_second = 50
retry_delay_ms = 10

[server]
base_url = "{base_url}"
{extra}
"#
        );
        std::fs::write(regions.join(format!("{id}.toml")), toml).unwrap();
        let cfg =
            meridian_config::load_region(&regions, data.path(), &RegionId::parse(id).unwrap())
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
                audio_url: Some("https://cdn.pod.example/1.mp3".to_owned()),
                insight: Insight {
                    text: "Grid batteries now shift solar power into the evening peak.".to_owned(),
                    quote: "By six pm the batteries carry a third of the load.".to_owned(),
                    start: Some(754.0),
                    importance: 0.8,
                    why: String::new(),
                    model: "builtin".to_owned(),
                    speaker: None,
                },
                score: ScoreComponents {
                    importance: 0.8,
                    novelty: 0.9,
                    recency: 0.7,
                    total: 0.8,
                },
                language: Some("en".to_owned()),
            }],
            short_of_strong_insights: false,
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
    /// The running service's state (its runs, metrics).
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), meridian_server::ServerError>>,
}

impl Served {
    pub async fn start(region: &TestRegion) -> Self {
        Self::start_on(region, "127.0.0.1:0".parse().unwrap()).await
    }

    /// As [`Served::start`], on `listen`.
    pub async fn start_on(region: &TestRegion, listen: SocketAddr) -> Self {
        let options = ServeOptions::for_region(&region.region);
        Self::start_with(region, listen, options).await
    }

    /// As [`Served::start_on`], with `options`.
    pub async fn start_with(
        region: &TestRegion,
        listen: SocketAddr,
        options: ServeOptions,
    ) -> Self {
        let app = Application::build_with(Arc::clone(&region.region), listen, options)
            .await
            .unwrap();
        let state = app.state().clone();
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
            state,
            stop: Some(tx),
            task,
        }
    }

    /// Triggers the graceful shutdown and waits for it.
    pub async fn stop(mut self) -> Result<(), meridian_server::ServerError> {
        self.signal_stop();
        (&mut self.task).await.unwrap()
    }

    /// Triggers the graceful shutdown without waiting for it.
    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Whether the service has stopped.
    pub fn is_stopped(&self) -> bool {
        self.task.is_finished()
    }
}

/// The CSRF token in a subscribe page and the cookie (`name=value`) that
/// goes with it.
pub fn csrf_of(body: &str, set_cookie: Option<&str>) -> (String, String) {
    let marker = "name=\"csrf\" value=\"";
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF field in {body}"))
        + marker.len();
    let token = body[start..].split('"').next().unwrap().to_owned();
    let cookie = set_cookie
        .unwrap_or_else(|| panic!("no Set-Cookie with the page"))
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (token, cookie)
}

/// Posts the subscribe form as a browser does: the page first (its CSRF
/// field and cookie), then the form with both.
pub async fn post_subscribe_form(
    addr: SocketAddr,
    form: &str,
) -> Result<meridian_testkit::http::Response, String> {
    let page = meridian_testkit::http::get(addr, "/subscribe")
        .await
        .unwrap();
    let (token, cookie) = csrf_of(&page.body, page.header("set-cookie"));
    let body = format!("{form}&csrf={token}");
    meridian_testkit::http::request(
        addr,
        "POST",
        "/subscribe",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        body.as_bytes(),
    )
    .await
}

/// The path and query of one of the region's links (`https://fx.example/x?y` → `/x?y`).
pub fn local_target(link: &str) -> String {
    link.strip_prefix(BASE_URL)
        .unwrap_or_else(|| panic!("not a link of the region: {link}"))
        .to_owned()
}
