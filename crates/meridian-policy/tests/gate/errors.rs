//! Loading: broken policy files are refused naming file and line; the bundle
//! is hashed and listed.

use std::fs;

use meridian_core::DataClass::Public;
use meridian_policy::{
    PolicyAction, PolicyError, PolicyGate, PolicyRequest, PolicyResource, purpose,
};

use crate::{copy_of_shipped, gate, model, region, shipped};

#[test]
fn every_shipped_region_loads_and_every_policy_has_an_id_a_reason_and_a_rule_comment() {
    for id in ["us", "cn", "eu"] {
        let gate = gate(id);
        let policies = gate.policies();
        assert!(
            policies
                .iter()
                .any(|p| p.file.starts_with(&format!("{id}/"))),
            "{id} has policies of its own"
        );
        for p in &policies {
            assert!(
                p.file.starts_with("global/") || p.file.starts_with(&format!("{id}/")),
                "{id}: {}",
                p.file
            );
            assert!(
                p.reason.as_deref().is_some_and(|r| !r.is_empty()),
                "{id}: `{}` has a @reason",
                p.id
            );
            assert!(
                p.text.starts_with("//"),
                "{id}: `{}` comes with the comment stating its rule:\n{}",
                p.id,
                p.text
            );
            assert!(p.text.contains(&format!("@id(\"{}\")", p.id)), "{}", p.text);
            assert!(p.line > 1, "{}", p.id);
        }
    }
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let dir = copy_of_shipped();
    let file = dir.path().join("cn/models.cedar");
    let text = fs::read_to_string(&file).unwrap();
    // Line of the broken `unless`, 1-based.
    let line = text.lines().position(|l| l.starts_with("unless")).unwrap() + 1;
    fs::write(
        &file,
        text.replace(
            "unless { resource.hosted_in == \"CN\" };",
            "unless { resource.hosted_in == };",
        ),
    )
    .unwrap();
    let err = PolicyGate::load(dir.path(), &region("cn")).unwrap_err();
    let PolicyError::Parse {
        file: f,
        line: l,
        col,
        ..
    } = &err
    else {
        panic!("a parse error: {err:?}")
    };
    assert_eq!(f, &file);
    assert_eq!(*l, line, "{err}");
    assert!(*col > 1, "{err}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("{}:{line}:", file.display())),
        "{shown}"
    );
    assert!(shown.contains("syntax error"), "{shown}");
}

#[test]
fn a_policy_that_does_not_match_the_schema_names_file_line_and_policy() {
    let dir = copy_of_shipped();
    let file = dir.path().join("eu/models.cedar");
    let text = fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("containsAny([\"adequacy\""))
        .unwrap()
        + 1;
    fs::write(
        &file,
        text.replace(
            "resource.attributes.containsAny",
            "resource.labels.containsAny",
        ),
    )
    .unwrap();
    let err = PolicyGate::load(dir.path(), &region("eu")).unwrap_err();
    let PolicyError::Validation {
        file: f,
        policy_id,
        line: l,
        reason,
        ..
    } = &err
    else {
        panic!("a validation error: {err:?}")
    };
    assert_eq!(f, &file);
    assert_eq!(policy_id, "eu.models.non-eu-needs-adequacy-or-dpf");
    assert_eq!(*l, line, "{err}");
    assert!(
        reason.contains("labels"),
        "names the unknown attribute: {err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{}:{line}:", file.display())),
        "{err}"
    );
}

#[test]
fn a_type_error_and_a_policy_that_can_never_apply_are_refused() {
    let dir = copy_of_shipped();
    let file = dir.path().join("us/models.cedar");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(
        &file,
        text.replace("resource.hosted_in == \"US\"", "resource.hosted_in == 1"),
    )
    .unwrap();
    let err = PolicyGate::load(dir.path(), &region("us")).unwrap_err();
    assert!(
        matches!(&err, PolicyError::Validation { policy_id, .. } if policy_id == "us.models.hosted-in-us"),
        "{err:?}"
    );

    // A forbid scoped to a resource type its action never reaches would silently do nothing.
    fs::write(
        &file,
        "// Rule: none.\n@id(\"us.never\")\n@reason(\"x\")\nforbid (principal, action == Action::\"fetch\", resource is Model);\n",
    )
    .unwrap();
    let err = PolicyGate::load(dir.path(), &region("us")).unwrap_err();
    assert!(
        err.problems().iter().all(|p| matches!(p, PolicyError::Validation { policy_id, line: 2, .. } if policy_id == "us.never")),
        "{err:?}"
    );
    assert!(err.to_string().contains("impossible"), "{err}");
}

#[test]
fn a_broken_schema_names_the_schema_file_and_line() {
    let dir = copy_of_shipped();
    let file = dir.path().join("schema.cedarschema");
    let text = fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with("hosted_in_eu: Bool"))
        .unwrap()
        + 1;
    fs::write(
        &file,
        text.replace("hosted_in_eu: Bool,", "hosted_in_eu: Bool Bool,"),
    )
    .unwrap();
    let err = PolicyGate::load(dir.path(), &region("eu")).unwrap_err();
    let PolicyError::Schema {
        file: f, line: l, ..
    } = &err
    else {
        panic!("a schema error: {err:?}")
    };
    assert_eq!(f, &file);
    assert_eq!(*l, line, "{err}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = copy_of_shipped();
    fs::write(
        dir.path().join("global/broken.cedar"),
        "permit (principal, action, resource) when { true\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("cn/no-id.cedar"),
        "// Rule: everything.\n@reason(\"x\")\npermit (principal, action, resource);\n",
    )
    .unwrap();
    let err = PolicyGate::load(dir.path(), &region("cn")).unwrap_err();
    let problems = err.problems();
    assert!(problems.iter().any(|p| matches!(p, PolicyError::Parse { file, .. } if file.ends_with("global/broken.cedar"))), "{err}");
    assert!(
        problems.iter().any(
            |p| matches!(p, PolicyError::Annotation { file, line: 2, reason, .. }
            if file.ends_with("cn/no-id.cedar") && reason.contains("@id"))
        ),
        "{err}"
    );
}

#[test]
fn policy_ids_are_unique_across_the_bundle() {
    let dir = copy_of_shipped();
    fs::copy(
        dir.path().join("global/mail.cedar"),
        dir.path().join("cn/mail-again.cedar"),
    )
    .unwrap();
    let err = PolicyGate::load(dir.path(), &region("cn")).unwrap_err();
    assert!(
        err.problems()
            .iter()
            .all(|p| matches!(p, PolicyError::Annotation { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("already used in"), "{err}");
    assert!(err.to_string().contains("mail-again.cedar"), "{err}");
}

#[test]
fn an_empty_region_folder_means_global_rules_only_and_a_missing_one_is_refused() {
    let dir = copy_of_shipped();
    let mut facts = region("us");
    facts.id = meridian_core::RegionId::parse("us-west").unwrap();
    let err = PolicyGate::load(dir.path(), &facts).unwrap_err();
    assert!(
        matches!(&err, PolicyError::Io { path, .. } if path.ends_with("us-west")),
        "{err:?}"
    );
    assert!(err.to_string().contains("policy folder missing"), "{err}");

    fs::create_dir(dir.path().join("us-west")).unwrap();
    let gate = PolicyGate::load(dir.path(), &facts).unwrap();
    assert!(
        gate.policies()
            .iter()
            .all(|p| p.file.starts_with("global/"))
    );
    let mistral = model("mistral", "FR", "FR", &[]);
    let d = gate.decide(&PolicyRequest {
        action: PolicyAction::InvokeModel,
        resource: PolicyResource::Model(&mistral),
        data_classes: &[Public],
        purpose: purpose::INSIGHT,
    });
    assert!(d.allowed, "no region rule restricts hosting: {d}");
}

#[test]
fn the_bundle_hash_covers_names_and_contents_of_the_loaded_files_only() {
    let a = gate("cn").bundle_hash();
    assert_eq!(
        a,
        PolicyGate::load(&shipped(), &region("cn"))
            .unwrap()
            .bundle_hash(),
        "stable"
    );
    assert_ne!(
        a,
        gate("us").bundle_hash(),
        "another region's folder is another bundle"
    );

    let dir = copy_of_shipped();
    assert_eq!(
        PolicyGate::load(dir.path(), &region("cn"))
            .unwrap()
            .bundle_hash(),
        a,
        "the location does not matter"
    );
    fs::write(dir.path().join("us/extra.cedar"), "").unwrap();
    fs::write(dir.path().join("README.md"), "changed").unwrap();
    assert_eq!(
        PolicyGate::load(dir.path(), &region("cn"))
            .unwrap()
            .bundle_hash(),
        a,
        "files cn does not load do not count"
    );
    let file = dir.path().join("cn/models.cedar");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(
        &file,
        text.replace("// Region `cn`: China.", "// Region `cn`: China (edited)."),
    )
    .unwrap();
    assert_ne!(
        PolicyGate::load(dir.path(), &region("cn"))
            .unwrap()
            .bundle_hash(),
        a,
        "a comment edit is a new bundle"
    );
    fs::write(&file, &text).unwrap();
    fs::rename(&file, dir.path().join("cn/hosting.cedar")).unwrap();
    assert_ne!(
        PolicyGate::load(dir.path(), &region("cn"))
            .unwrap()
            .bundle_hash(),
        a,
        "a renamed file is a new bundle"
    );
}

#[test]
fn the_gate_is_shared_across_threads() {
    fn send_sync<T: Send + Sync + Clone>(_: &T) {}
    let gate = gate("us");
    send_sync(&gate);
    let gpt = model("gpt", "US", "US", &[]);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let gate = gate.clone();
            let gpt = gpt.clone();
            std::thread::spawn(move || {
                gate.decide(&PolicyRequest {
                    action: PolicyAction::InvokeModel,
                    resource: PolicyResource::Model(&gpt),
                    data_classes: &[Public],
                    purpose: purpose::INSIGHT,
                })
                .allowed
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}

#[test]
fn a_region_policy_without_an_action_scope_applies_to_every_action() {
    let dir = copy_of_shipped();
    fs::write(
        dir.path().join("eu/freeze.cedar"),
        "// Rule: nothing leaves during a freeze.\n@id(\"eu.freeze\")\n@reason(\"frozen\")\n\
         forbid (principal, action, resource) when { context.purpose == \"frozen\" };\n",
    )
    .unwrap();
    let gate = PolicyGate::load(dir.path(), &region("eu")).unwrap();
    let mistral = model("mistral", "FR", "FR", &[]);
    let requests = [
        (PolicyAction::InvokeModel, PolicyResource::Model(&mistral)),
        (PolicyAction::Transcribe, PolicyResource::Model(&mistral)),
        (
            PolicyAction::Fetch,
            PolicyResource::Host {
                name: "api.mistral.ai",
                port: 443,
                private: false,
                admitted: true,
            },
        ),
        (
            PolicyAction::SendEmail,
            PolicyResource::Relay { host: "outbox" },
        ),
    ];
    for (action, resource) in requests {
        let ask = |why| {
            gate.decide(&PolicyRequest {
                action,
                resource,
                data_classes: &[Public],
                purpose: why,
            })
        };
        let d = ask("frozen");
        assert!(!d.allowed, "{action}: {d}");
        assert_eq!(d.determining_policies, ["eu.freeze"], "{action}");
        // Asked again (now from the cache) with another purpose, the freeze does not apply.
        assert!(ask("insight").allowed, "{action}");
    }
}
