//! The decision matrix of the shipped policies: per region, (model facts ×
//! data class) → decision and determining policies, as named table cases.

use meridian_core::DataClass::{self, Derived, Personal, Public};
use meridian_policy::{
    DIGEST_CLASSES, ModelFacts, OUTBOX_RELAY, PolicyAction, PolicyGate, PolicyRequest,
    PolicyResource, RegionFacts, purpose,
};

use crate::{gate, model, region, shipped};

/// One case: a name that failure messages repeat, the request, the expected
/// verdict and the exact set of determining policy ids.
struct Case {
    name: &'static str,
    model: ModelFacts,
    class: DataClass,
    allowed: bool,
    by: &'static [&'static str],
}

fn case(
    name: &'static str,
    model: ModelFacts,
    class: DataClass,
    allowed: bool,
    by: &'static [&'static str],
) -> Case {
    Case {
        name,
        model,
        class,
        allowed,
        by,
    }
}

const PERMIT: &[&str] = &["global.models.public-and-derived"];
const NO_PERSONAL: &str = "global.models.no-personal-data";
const FORBIDDEN_ORIGIN: &str = "global.models.forbidden-origin";

fn run(region_id: &str, cases: &[Case]) {
    let gate = gate(region_id);
    for action in [PolicyAction::InvokeModel, PolicyAction::Transcribe] {
        for c in cases {
            let d = gate.decide(&PolicyRequest {
                action,
                resource: PolicyResource::Model(&c.model),
                data_classes: &[c.class],
                purpose: purpose::INSIGHT,
            });
            let what = format!("{region_id} / {} / {action} with {}", c.name, c.class);
            assert_eq!(d.allowed, c.allowed, "{what}: {d}");
            assert_eq!(
                d.determining_policies,
                c.by.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
                "{what}: {d}"
            );
            assert!(d.errors.is_empty(), "{what}: {d}");
            assert_eq!(
                d.reasons.len(),
                d.determining_policies.len(),
                "{what}: one reason per policy: {d}"
            );
        }
    }
}

#[test]
fn us_requires_us_hosting_and_refuses_forbidden_origins() {
    run(
        "us",
        &[
            case(
                "gpt (US/US) public",
                model("gpt", "US", "US", &[]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "gpt (US/US) derived",
                model("gpt", "US", "US", &[]),
                Derived,
                true,
                PERMIT,
            ),
            case(
                "gpt (US/US) personal",
                model("gpt", "US", "US", &[]),
                Personal,
                false,
                &[NO_PERSONAL],
            ),
            case(
                "builtin (US/US) public",
                model("builtin", "US", "US", &[]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "llama on US servers (US/US, open) public",
                model("llama", "US", "US", &[]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "deepseek on US servers (US/CN) public",
                model("deepseek", "US", "CN", &[]),
                Public,
                false,
                &[FORBIDDEN_ORIGIN],
            ),
            case(
                "a RU-built model on US servers public",
                model("ru", "US", "RU", &[]),
                Public,
                false,
                &[FORBIDDEN_ORIGIN],
            ),
            case(
                "qwen (CN/CN) public",
                model("qwen", "CN", "CN", &[]),
                Public,
                false,
                &[FORBIDDEN_ORIGIN, "us.models.hosted-in-us"],
            ),
            case(
                "mistral (FR/FR) public",
                model("mistral", "FR", "FR", &[]),
                Public,
                false,
                &["us.models.hosted-in-us"],
            ),
            case(
                "mistral (FR/FR) with dpf public",
                model("mistral", "FR", "FR", &["dpf"]),
                Public,
                false,
                &["us.models.hosted-in-us"],
            ),
            case(
                "llama on German servers (DE/US) derived",
                model("llama", "DE", "US", &[]),
                Derived,
                false,
                &["us.models.hosted-in-us"],
            ),
            case(
                "qwen (CN/CN) personal",
                model("qwen", "CN", "CN", &[]),
                Personal,
                false,
                &[FORBIDDEN_ORIGIN, NO_PERSONAL, "us.models.hosted-in-us"],
            ),
        ],
    );
}

#[test]
fn cn_requires_cn_hosting() {
    const HOSTED_IN_CN: &str = "cn.models.hosted-in-cn";
    run(
        "cn",
        &[
            case(
                "qwen (CN/CN) public",
                model("qwen", "CN", "CN", &[]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "qwen (CN/CN) derived",
                model("qwen", "CN", "CN", &[]),
                Derived,
                true,
                PERMIT,
            ),
            case(
                "qwen (CN/CN) personal",
                model("qwen", "CN", "CN", &[]),
                Personal,
                false,
                &[NO_PERSONAL],
            ),
            case(
                "builtin (CN/CN) public",
                model("builtin", "CN", "CN", &[]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "llama served in CN (CN/US) public",
                model("llama", "CN", "US", &[]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "gpt (US/US) public",
                model("gpt", "US", "US", &[]),
                Public,
                false,
                &[HOSTED_IN_CN],
            ),
            case(
                "deepseek on US servers (US/CN) public",
                model("deepseek", "US", "CN", &[]),
                Public,
                false,
                &[HOSTED_IN_CN],
            ),
            case(
                "qwen in Hong Kong (HK/CN) public",
                model("qwen-hk", "HK", "CN", &[]),
                Public,
                false,
                &[HOSTED_IN_CN],
            ),
            case(
                "mistral (FR/FR) with adequacy derived",
                model("mistral", "FR", "FR", &["adequacy"]),
                Derived,
                false,
                &[HOSTED_IN_CN],
            ),
            case(
                "gpt (US/US) personal",
                model("gpt", "US", "US", &[]),
                Personal,
                false,
                &[HOSTED_IN_CN, NO_PERSONAL],
            ),
        ],
    );
}

#[test]
fn eu_keeps_personal_data_in_the_eu_and_needs_adequacy_or_dpf_abroad() {
    const NEEDS_ADEQUACY: &str = "eu.models.non-eu-needs-adequacy-or-dpf";
    const PERSONAL_EU_ONLY: &str = "eu.models.personal-data-eu-hosted-only";
    run(
        "eu",
        &[
            case(
                "mistral (FR/FR) public",
                model("mistral", "FR", "FR", &[]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "mistral (FR/FR) derived",
                model("mistral", "FR", "FR", &[]),
                Derived,
                true,
                PERMIT,
            ),
            case(
                "mistral (FR/FR) personal",
                model("mistral", "FR", "FR", &[]),
                Personal,
                false,
                &[NO_PERSONAL],
            ),
            case(
                "builtin (EU/EU) public",
                model("builtin", "EU", "EU", &[]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "llama on German servers (DE/US) public",
                model("llama", "DE", "US", &[]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "gpt (US/US) public",
                model("gpt", "US", "US", &[]),
                Public,
                false,
                &[NEEDS_ADEQUACY],
            ),
            case(
                "gpt (US/US) derived",
                model("gpt", "US", "US", &[]),
                Derived,
                false,
                &[NEEDS_ADEQUACY],
            ),
            case(
                "gpt with dpf (US/US) public",
                model("gpt", "US", "US", &["dpf"]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "gpt with dpf (US/US) derived",
                model("gpt", "US", "US", &["dpf"]),
                Derived,
                true,
                PERMIT,
            ),
            case(
                "gpt with dpf (US/US) personal",
                model("gpt", "US", "US", &["dpf"]),
                Personal,
                false,
                &[PERSONAL_EU_ONLY, NO_PERSONAL],
            ),
            case(
                "a Swiss-hosted model with adequacy public",
                model("swiss", "CH", "CH", &["adequacy"]),
                Public,
                true,
                PERMIT,
            ),
            case(
                "a Swiss-hosted model without the attribute public",
                model("swiss", "CH", "CH", &[]),
                Public,
                false,
                &[NEEDS_ADEQUACY],
            ),
            case(
                "qwen (CN/CN) public",
                model("qwen", "CN", "CN", &[]),
                Public,
                false,
                &[NEEDS_ADEQUACY],
            ),
            case(
                "gpt (US/US) personal",
                model("gpt", "US", "US", &[]),
                Personal,
                false,
                &[NEEDS_ADEQUACY, PERSONAL_EU_ONLY, NO_PERSONAL],
            ),
            case(
                "an unrelated attribute is no adequacy (US) public",
                model("gpt", "US", "US", &["soc2"]),
                Public,
                false,
                &[NEEDS_ADEQUACY],
            ),
        ],
    );
}

#[test]
fn several_classes_are_judged_together() {
    let gate = gate("eu");
    let mistral = model("mistral", "FR", "FR", &[]);
    let d = gate.decide(&PolicyRequest {
        action: PolicyAction::InvokeModel,
        resource: PolicyResource::Model(&mistral),
        data_classes: &[Public, Derived],
        purpose: purpose::INSIGHT,
    });
    assert!(d.allowed, "{d}");
    let d = gate.decide(&PolicyRequest {
        action: PolicyAction::InvokeModel,
        resource: PolicyResource::Model(&mistral),
        data_classes: &[Public, Personal],
        purpose: purpose::INSIGHT,
    });
    assert!(!d.allowed, "one personal item taints the whole prompt: {d}");
    assert_eq!(d.determining_policies, [NO_PERSONAL]);
    assert_eq!(
        d.reasons,
        ["personal data (subscriber addresses, names) is never sent to a model"]
    );
}

fn fetch(
    gate: &PolicyGate,
    name: &str,
    port: u16,
    private: bool,
    classes: &[DataClass],
    why: &str,
) -> meridian_policy::Decision {
    gate.decide(&PolicyRequest {
        action: PolicyAction::Fetch,
        resource: PolicyResource::Host {
            name,
            port,
            private,
            admitted: true,
        },
        data_classes: classes,
        purpose: why,
    })
}

#[test]
fn a_host_the_egress_guard_refused_is_denied_by_the_allow_list_policy() {
    let us = gate("us");
    let d = us.decide(&PolicyRequest {
        action: PolicyAction::Fetch,
        resource: PolicyResource::Host {
            name: "exfil.example.net",
            port: 443,
            private: false,
            admitted: false,
        },
        data_classes: &[Public],
        purpose: purpose::FEED,
    });
    assert!(!d.allowed, "{d}");
    assert_eq!(
        d.determining_policies,
        vec!["global.fetch.egress-allow-list".to_owned()],
        "{d}"
    );
}

#[test]
fn fetch_reaches_admitted_hosts_but_private_ones_only_by_name() {
    const ADMITTED: &[&str] = &["global.fetch.admitted-hosts"];
    const CONSENT: &[&str] = &["global.fetch.private-hosts-need-consent"];
    let cn = gate("cn");
    let us = gate("us");
    for (name, gate, host, port, private, classes, why, allowed, by) in [
        (
            "a public feed host",
            &us,
            "feeds.example.com",
            443,
            false,
            &[Public][..],
            purpose::FEED,
            true,
            ADMITTED,
        ),
        (
            "the OpenAI API with a prompt",
            &us,
            "api.openai.com",
            443,
            false,
            &[Public, Derived][..],
            purpose::MODEL,
            true,
            ADMITTED,
        ),
        (
            "cn's named local Ollama",
            &cn,
            "127.0.0.1",
            11434,
            true,
            &[Public][..],
            purpose::MODEL,
            true,
            ADMITTED,
        ),
        (
            "loopback on another port than the named one",
            &cn,
            "127.0.0.1",
            8080,
            true,
            &[Public][..],
            purpose::MODEL,
            false,
            CONSENT,
        ),
        (
            "a feed URL pointing into the private network",
            &us,
            "10.0.0.5",
            80,
            true,
            &[Public][..],
            purpose::FEED,
            false,
            CONSENT,
        ),
        (
            "a feed whose name resolves to loopback",
            &us,
            "evil.example",
            80,
            true,
            &[Public][..],
            purpose::FEED,
            false,
            CONSENT,
        ),
        (
            "personal data in a request",
            &us,
            "api.openai.com",
            443,
            false,
            &[Personal][..],
            purpose::MODEL,
            false,
            &["global.fetch.no-personal-data"],
        ),
    ] {
        let d = fetch(gate, host, port, private, classes, why);
        assert_eq!(d.allowed, allowed, "{name}: {d}");
        assert_eq!(d.determining_policies, by, "{name}: {d}");
    }

    let mut open = region("us");
    open.allow_private = true;
    let open = PolicyGate::load(&shipped(), &open).unwrap();
    let d = fetch(&open, "10.0.0.5", 80, true, &[Public], purpose::FEED);
    assert!(
        d.allowed,
        "egress.allow_private consents to private feed hosts: {d}"
    );

    let mut named = region("us");
    named.egress_allow.push("[::1]:8080".parse().unwrap());
    named.egress_allow.push("Feeds.Local".parse().unwrap());
    let named = PolicyGate::load(&shipped(), &named).unwrap();
    assert!(fetch(&named, "::1", 8080, true, &[Public], purpose::FEED).allowed);
    assert!(fetch(&named, "[::1]", 8080, true, &[Public], purpose::FEED).allowed);
    assert!(
        fetch(&named, "feeds.local.", 80, true, &[Public], purpose::FEED).allowed,
        "any port of a host named without one"
    );
}

#[test]
fn mail_goes_only_to_the_regions_own_relay() {
    let outbox = gate("eu");
    let send = |gate: &PolicyGate, host: &str| {
        gate.decide(&PolicyRequest {
            action: PolicyAction::SendEmail,
            resource: PolicyResource::Relay { host },
            data_classes: &DIGEST_CLASSES,
            purpose: purpose::DIGEST,
        })
    };
    let d = send(&outbox, OUTBOX_RELAY);
    assert!(d.allowed, "{d}");
    assert_eq!(d.determining_policies, ["global.mail.delivery"]);
    let d = send(&outbox, "smtp.other-region.example");
    assert!(!d.allowed, "{d}");
    assert_eq!(d.determining_policies, ["global.mail.own-relay-only"]);

    let mut facts: RegionFacts = region("eu");
    facts.mail_relay = "relay.eu.example".into();
    let relay = PolicyGate::load(&shipped(), &facts).unwrap();
    assert!(
        send(&relay, "Relay.EU.example").allowed,
        "host names compare case-insensitively"
    );
    assert!(
        !send(&relay, OUTBOX_RELAY).allowed,
        "with a relay configured, the outbox is not the region's relay"
    );
}

#[test]
fn an_action_on_the_wrong_kind_of_resource_is_denied_with_an_error() {
    let gate = gate("us");
    let d = gate.decide(&PolicyRequest {
        action: PolicyAction::InvokeModel,
        resource: PolicyResource::Host {
            name: "api.openai.com",
            port: 443,
            private: false,
            admitted: true,
        },
        data_classes: &[Public],
        purpose: purpose::INSIGHT,
    });
    assert!(!d.allowed);
    assert!(d.errors.iter().any(|e| e.contains("does not apply")), "{d}");
}
