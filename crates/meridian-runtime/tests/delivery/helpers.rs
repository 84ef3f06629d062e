//! A region `dx` whose mail goes to a real SMTP server (aiosmtpd) on loopback,
//! with a stored digest of five insights.

use chrono::NaiveDate;
use meridian_core::{Digest, DigestItem, Insight, RegionId, ScoreComponents, SubscriberEmail};
use meridian_runtime::{AssembleOptions, Region};
use meridian_store::{DeliveryRow, SubscriberStatus};
use meridian_testkit::SmtpServer;
use tempfile::TempDir;

/// Not a shipped region, so no `MERIDIAN_US__…` variable can reach it.
pub const REGION: &str = "dx";
/// The region's AI-generated-content label.
pub const LABEL: &str =
    "AI-generated: selected and summarised by an AI system from podcast transcripts.";

pub struct Harness {
    pub smtp: SmtpServer,
    pub region: Region,
    pub date: NaiveDate,
    _config: TempDir,
    _data: TempDir,
}

impl Harness {
    /// The region, assembled, with `mail.max_attempts = max_attempts` and a
    /// 10 ms first retry delay.
    pub async fn start(max_attempts: u32) -> Self {
        let smtp = SmtpServer::start();
        let config = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let toml = format!(
            r#"id = "{REGION}"
name = "Delivery test"
jurisdiction = "US"
locale = "en-US"
timezone = "UTC"

[storage]
url = "sqlite://{{data_dir}}/{REGION}.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[mail]
smtp_url = "{smtp_url}"
from = "Meridian Digest <digest@dx.example.com>"
ai_label = "{LABEL}"
max_per_second = 50
max_attempts = {max_attempts}
retry_delay_ms = 10
unsubscribe_mailbox = "unsubscribe@dx.example.com"

[server]
base_url = "https://dx.example"
"#,
            smtp_url = smtp.url(),
        );
        std::fs::write(config.path().join(format!("{REGION}.toml")), toml).unwrap();
        let cfg = meridian_config::load_region(
            config.path(),
            data.path(),
            &RegionId::parse(REGION).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let policies = meridian_testkit::policies::bundle(REGION);
        let options = AssembleOptions {
            policies_dir: Some(policies.path().to_owned()),
            ..AssembleOptions::default()
        };
        let region = Region::assemble(cfg, &options).await.unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        Self {
            smtp,
            region,
            date,
            _config: config,
            _data: data,
        }
    }

    /// Adds a confirmed subscriber; its row id.
    pub async fn add_confirmed(&self, email: &str, locale: Option<&str>) -> i64 {
        let email = SubscriberEmail::parse(email).unwrap();
        let (row, _) = self
            .region
            .store()
            .add_subscriber(&email, SubscriberStatus::Confirmed, locale, "cli", 1)
            .await
            .unwrap();
        row.id
    }

    /// Stores the day's digest: five insights from three podcasts.
    pub async fn store_digest(&self) -> Digest {
        let item = |n: usize, podcast: &str, text: &str, quote: &str, start: f64| DigestItem {
            podcast: podcast.to_owned(),
            episode: format!("Episode {n}"),
            episode_url: Some(format!("https://pod.example/{n}")),
            audio_url: Some(format!("https://cdn.pod.example/{n}.mp3")),
            insight: Insight {
                text: text.to_owned(),
                quote: quote.to_owned(),
                start: Some(start),
                importance: 0.8,
                why: String::new(),
                model: "builtin".to_owned(),
                speaker: (n == 1).then(|| "Ada Lovelace".to_owned()),
            },
            score: ScoreComponents {
                importance: 0.8,
                novelty: 0.9,
                recency: 0.7,
                total: 0.8,
            },
            language: Some("en".to_owned()),
        };
        let digest = Digest {
            region: RegionId::parse(REGION).unwrap(),
            date: self.date,
            items: vec![
                item(
                    1,
                    "Circuit Breakers",
                    "Grid batteries now shift solar power into the evening peak.",
                    "By six pm the batteries carry a third of the load.",
                    754.0,
                ),
                item(
                    2,
                    "Circuit Breakers",
                    "Heat pumps halve a household's heating energy.",
                    "We measured half the kilowatt-hours of the old boiler.",
                    1312.5,
                ),
                item(
                    3,
                    "Slow Money",
                    "Index funds win mostly through lower fees.",
                    "The fee is the one return you can predict.",
                    95.0,
                ),
                item(
                    4,
                    "Slow Money",
                    "Emergency savings come before investing.",
                    "Three months of costs, then the market.",
                    2210.0,
                ),
                item(
                    5,
                    "Field Notes",
                    "Soil carbon grows fastest under mixed cover crops.",
                    "Mixed plots gained twice the carbon of the rye alone.",
                    431.0,
                ),
            ],
            short_of_strong_insights: false,
        };
        self.region
            .store()
            .create_digest(&digest, &[], 100)
            .await
            .unwrap();
        digest
    }

    /// The deliveries of the day's digest, by subscriber id.
    pub async fn deliveries(&self) -> Vec<DeliveryRow> {
        let stored = self
            .region
            .store()
            .digest_for_date(self.date)
            .await
            .unwrap()
            .unwrap();
        self.region.store().deliveries_of(stored.id).await.unwrap()
    }
}
