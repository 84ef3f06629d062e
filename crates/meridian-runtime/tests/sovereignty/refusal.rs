//! Fail closed: a region whose own config breaks its policies does not start.

use meridian_core::RegionId;
use meridian_runtime::{AssembleOptions, Region, RuntimeError};

#[tokio::test]
async fn a_region_naming_a_model_its_policies_forbid_is_refused_naming_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let regions = dir.path().join("regions");
    std::fs::create_dir_all(&regions).unwrap();
    // `policies/` beside `regions/`, as in the repository and in deployments.
    meridian_testkit::policies::write_bundle(&dir.path().join("policies"), "cn");
    std::fs::write(
        regions.join("cn.toml"),
        r#"
id = "cn"
jurisdiction = "CN"
locale = "zh-CN"
timezone = "Asia/Shanghai"

[storage]
url = "sqlite://{data_dir}/cn.db"

[[models.insight]]
name = "gpt-4o-mini"
provider = "openai"
endpoint = "https://api.openai.com/v1"
model = "gpt-4o-mini"
hosted_in = "US"
origin = "US"
weights = "closed"

[[models.insight]]
name = "builtin"
provider = "builtin"

[egress]
allow = ["api.openai.com", "*"]

[mail]
from = "Meridian <digest@cn.meridian.example.com>"
ai_label = "本邮件内容由人工智能生成。"
"#,
    )
    .unwrap();
    let config = meridian_config::load_region(
        &regions,
        &dir.path().join("data"),
        &RegionId::parse("cn").unwrap(),
    )
    .unwrap();
    let err = Region::assemble(config, &AssembleOptions::default())
        .await
        .unwrap_err();
    let RuntimeError::PolicyViolations { region, violations } = &err else {
        panic!("expected a policy refusal, got: {err}");
    };
    assert_eq!(region.as_str(), "cn");
    let text = err.to_string();
    assert!(text.contains("gpt-4o-mini"), "names the model: {text}");
    assert!(
        text.contains("cn.models.hosted-in-cn"),
        "names the policy: {text}"
    );
    assert!(
        violations.iter().all(|v| v.contains("cn")),
        "{violations:?}"
    );
    assert!(
        !dir.path().join("data").join("cn.db").exists(),
        "nothing is opened for a refused region"
    );
}

#[tokio::test]
async fn a_region_without_its_policies_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let regions = dir.path().join("regions");
    std::fs::create_dir_all(&regions).unwrap();
    std::fs::write(
        regions.join("zz.toml"),
        r#"
id = "zz"
jurisdiction = "US"
locale = "en-US"
timezone = "UTC"

[storage]
url = "sqlite://{data_dir}/zz.db"

[[models.insight]]
name = "builtin"
provider = "builtin"

[mail]
from = "Meridian <digest@zz.example.com>"
ai_label = "AI-generated."
"#,
    )
    .unwrap();
    let config = meridian_config::load_region(
        &regions,
        &dir.path().join("data"),
        &RegionId::parse("zz").unwrap(),
    )
    .unwrap();
    let err = Region::assemble(config, &AssembleOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RuntimeError::Policies { .. }),
        "fails closed: {err}"
    );
}
