//! Outbound HTTP: the allow-list, the gate and the record of every request.

use meridian_egress::{EgressError, FetchOutcome, Validators};

use crate::helpers::{of_kind, records};
use crate::support::{FeedServer, region};

fn toml(feeds: &FeedServer) -> String {
    format!(
        r#"
id = "us"
jurisdiction = "US"
locale = "en-US"
timezone = "UTC"

[storage]
url = "sqlite://{{data_dir}}/us.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[egress]
allow = ["{feed_host}"]

[mail]
from = "Meridian <digest@us.meridian.example.com>"
ai_label = "AI-generated."
"#,
        feed_host = feeds.host(),
    )
}

#[tokio::test]
async fn a_request_outside_the_allow_list_is_denied_and_recorded_with_the_policy_id() {
    let feeds = FeedServer::start().await;
    // A second server the region does not list: it must never be reached.
    let outsider = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let region = region(dir.path(), &dir.path().join("data"), "us", &toml(&feeds)).await;

    let refused = url::Url::parse(&format!("{}/feeds/ledger-lines.xml", outsider.base)).unwrap();
    let err = region
        .egress()
        .get(&refused, &Validators::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::HostNotAllowed { .. }),
        "the allow-list refuses it: {err}"
    );

    let allowed = url::Url::parse(&format!("{}/feeds/ledger-lines.xml", feeds.base)).unwrap();
    let fetched = match region
        .egress()
        .get(&allowed, &Validators::default(), None)
        .await
        .unwrap()
    {
        FetchOutcome::Fetched(f) => f,
        FetchOutcome::NotModified { .. } => panic!("an unconditional GET was answered 304"),
    };

    let records = records(&region).await;
    let decisions = of_kind(&records, "policy_decision");
    let outsider_host = outsider.host().to_owned();
    let denial = decisions
        .iter()
        .find(|r| r["subject"] == outsider_host.as_str())
        .unwrap_or_else(|| panic!("no decision about {outsider_host}: {decisions:#?}"));
    assert_eq!(denial["decision"]["effect"], "deny", "{denial}");
    assert_eq!(denial["decision"]["action"], "fetch", "{denial}");
    let policies = denial["decision"]["policies"].as_array().unwrap();
    assert!(
        policies.contains(&serde_json::json!("global.fetch.egress-allow-list")),
        "the denial names the allow-list policy: {denial}"
    );
    let requests = of_kind(&records, "http_request");
    assert!(
        requests
            .iter()
            .any(|r| r["host"] == outsider_host.as_str() && r["outcome"] == "denied"),
        "the refused request is recorded as denied: {requests:#?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r["host"] == outsider_host.as_str() && r["outcome"] == "ok"),
        "nothing was sent to the outsider"
    );

    // The allowed request: decided (allow) before, recorded with its outcome after.
    let feed_host = feeds.host().to_owned();
    assert!(decisions.iter().any(|r| r["subject"] == feed_host.as_str()
        && r["decision"]["effect"] == "allow"
        && r["decision"]["policies"] == serde_json::json!(["global.fetch.admitted-hosts"])));
    let done = requests
        .iter()
        .find(|r| r["host"] == feed_host.as_str() && r["outcome"] == "ok")
        .unwrap_or_else(|| panic!("no record of the allowed request: {requests:#?}"));
    assert_eq!(done["counts"]["status"], 200, "{done}");
    assert_eq!(done["counts"]["bytes"], fetched.body.len() as u64, "{done}");
    assert_eq!(region.policy_decisions().denied, 1);
    region.audit().checkpoint().await.unwrap();
    let verified = region.audit().verify(None).await.unwrap();
    assert!(verified.is_intact(), "{verified:?}");
}

/// A server that answers every request with a redirect to `location`.
async fn redirecting_to(location: String) -> (String, tokio::task::JoinHandle<()>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    #[expect(
        clippy::disallowed_methods,
        reason = "owned by the test, aborted at its end"
    )]
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (host, task)
}

#[tokio::test]
async fn every_redirect_hop_is_decided_and_a_refused_hop_is_not_followed() {
    let feeds = FeedServer::start().await;
    let outsider = FeedServer::start().await;
    let (redirector, task) =
        redirecting_to(format!("{}/feeds/ledger-lines.xml", outsider.base)).await;
    let dir = tempfile::tempdir().unwrap();
    let toml = toml(&feeds).replace(
        &format!("allow = [\"{}\"]", feeds.host()),
        &format!("allow = [\"{}\", \"{redirector}\"]", feeds.host()),
    );
    let region = region(dir.path(), &dir.path().join("data"), "us", &toml).await;
    let start = url::Url::parse(&format!("http://{redirector}/feed.xml")).unwrap();
    let err = region
        .egress()
        .get(&start, &Validators::default(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EgressError::HostNotAllowed { .. }),
        "the hop to the outsider is refused: {err}"
    );
    let records = records(&region).await;
    let decisions = of_kind(&records, "policy_decision");
    let first = decisions
        .iter()
        .find(|d| d["subject"] == redirector.as_str())
        .unwrap_or_else(|| panic!("{decisions:#?}"));
    assert_eq!(first["decision"]["effect"], "allow");
    let hop = decisions
        .iter()
        .find(|d| d["subject"] == outsider.host())
        .unwrap_or_else(|| panic!("the redirect hop was not decided: {decisions:#?}"));
    assert_eq!(hop["decision"]["effect"], "deny", "{hop}");
    assert_eq!(hop["detail"]["redirect"], 1, "{hop}");
    let requests = of_kind(&records, "http_request");
    assert!(
        requests
            .iter()
            .any(|r| r["host"] == redirector.as_str() && r["counts"]["status"] == 302),
        "the first hop's answer is recorded: {requests:#?}"
    );
    task.abort();
}
