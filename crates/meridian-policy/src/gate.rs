//! [`PolicyGate`]: a region's policy bundle, loaded and validated once, asked
//! once per outbound action.
//!
//! Loading reads `schema.cedarschema`, every `*.cedar` file in `global/` and
//! in `<region>/`, renames each policy to its `@id` annotation (so that
//! decisions and audit records name policies the way their authors did),
//! validates the whole set against the schema in strict mode and treats
//! validator warnings as errors: a policy that can never apply is a forbid
//! that silently does nothing, which a fail-closed gate must not accept.
//!
//! Deciding builds the two entities of a request (the region, precomputed at
//! load, and the resource), asks the Cedar authorizer and turns the answer
//! into a [`Decision`]. Requests are built from typed Rust values, so they are
//! not re-validated against the schema on every call (that would cost more
//! than the decision); a test validates each resource kind against the schema
//! instead. Should a policy still fail to evaluate, the decision is a denial.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::{Arc, RwLock};

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Effect, Entities, Entity,
    EntityId, EntityTypeName, EntityUid, Policy, PolicyId, PolicySet, Request,
    RestrictedExpression, Schema, ValidationMode, Validator,
};
use meridian_core::net::AllowEntry;
use meridian_core::{ContentHash, DataClass};

use crate::error::PolicyError;
use crate::request::{
    Decision, ModelFacts, PolicyAction, PolicyRequest, PolicyResource, RegionFacts,
};

/// The schema file's name inside the policies directory.
pub const SCHEMA_FILE: &str = "schema.cedarschema";
/// The folder of rules every region obeys.
pub const GLOBAL_DIR: &str = "global";

/// One policy in force, for `policy explain` and the audit report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyText {
    /// Its `@id`.
    pub id: String,
    /// The file, relative to the policies directory (`cn/models.cedar`).
    pub file: String,
    /// The line where the policy (its first annotation) starts, 1-based.
    pub line: usize,
    /// `permit` or `forbid`.
    pub effect: &'static str,
    /// Its `@reason`, if any.
    pub reason: Option<String>,
    /// The policy as written, with the comment block above it (the rule it encodes).
    pub text: String,
}

/// A region's policy gate. Built once per region with [`PolicyGate::load`];
/// cloning is cheap (the loaded bundle is shared), and it is `Send + Sync`.
#[derive(Clone)]
pub struct PolicyGate {
    inner: Arc<Inner>,
}

struct Inner {
    facts: RegionFacts,
    /// The policies that can apply to each action, indexed by
    /// [`PolicyAction::index`]: a policy whose scope names other actions is
    /// left out, so a decision evaluates only the policies it could match.
    slices: [PolicySet; 4],
    authorizer: Authorizer,
    /// `Region::"<id>"` with its attributes and the schema's action entities
    /// (so that `action in …` sees any action groups), built at load.
    fixed_entities: Vec<Entity>,
    region_uid: EntityUid,
    /// `Action::"…"`, indexed by [`PolicyAction::index`].
    actions: [EntityUid; 4],
    model_type: EntityTypeName,
    host_type: EntityTypeName,
    relay_type: EntityTypeName,
    /// The entries of `egress.allow` that name a host ([`AllowEntry::names_host`]).
    listed: Vec<AllowEntry>,
    /// `@reason` by `@id`.
    reasons: HashMap<String, String>,
    texts: Vec<PolicyText>,
    hash: ContentHash,
    /// Entities (region, actions, resource) by resource, and contexts by
    /// payload: the same few models, hosts and relays are asked about all day,
    /// and building Cedar values costs as much as evaluating the policies.
    cache: RwLock<Cache>,
}

/// Bounded memo of request parts; once full, further parts are built per call.
#[derive(Default)]
struct Cache {
    entities: HashMap<ResourceKey, (EntityUid, Arc<Entities>)>,
    contexts: HashMap<(u8, String), Context>,
}

/// The most entries of each kind the cache keeps (feed hosts are unbounded).
const CACHE_LIMIT: usize = 4096;

/// A resource as the cache knows it.
#[derive(Clone, PartialEq, Eq, Hash)]
enum ResourceKey {
    Model(ModelFacts),
    Host(String, u16, bool, bool),
    Relay(String),
}

impl std::fmt::Debug for PolicyGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyGate")
            .field("region", &self.inner.facts.id)
            .field("policies", &self.inner.texts.len())
            .field("bundle_hash", &self.inner.hash.to_hex())
            .finish_non_exhaustive()
    }
}

impl PolicyGate {
    /// Loads the region's policy bundle from `policies_dir`: the schema, every
    /// `*.cedar` file in `global/` and in `<region id>/` (which must exist, and
    /// may be empty: global rules only), and validates every policy against
    /// the schema.
    ///
    /// # Errors
    /// [`PolicyError::Io`] for a missing or unreadable file or folder,
    /// [`PolicyError::Schema`] for a bad schema, [`PolicyError::Parse`] for a
    /// syntax error, [`PolicyError::Annotation`] for a missing or duplicate
    /// `@id`, [`PolicyError::Validation`] for a policy that does not fit the
    /// schema; [`PolicyError::Several`] when there is more than one problem.
    pub fn load(policies_dir: &Path, region: &RegionFacts) -> Result<Self, PolicyError> {
        let schema_path = policies_dir.join(SCHEMA_FILE);
        let schema_text = read(&schema_path)?;
        let schema = parse_schema(&schema_path, &schema_text)?;

        let mut files = policy_files(policies_dir, GLOBAL_DIR)?;
        files.extend(policy_files(policies_dir, region.id.as_str())?);

        let mut errors = Vec::new();
        let mut set = PolicySet::new();
        let mut texts = Vec::new();
        let mut reasons = HashMap::new();
        // Which file each policy came from, and that file's text, for locating validation errors.
        let mut origin: HashMap<String, (PathBuf, Arc<str>)> = HashMap::new();
        let mut bundle: Vec<(String, Arc<str>)> =
            vec![(SCHEMA_FILE.to_owned(), Arc::from(schema_text.as_str()))];
        for (rel, path) in &files {
            let text: Arc<str> = Arc::from(read(path)?.as_str());
            bundle.push((rel.clone(), Arc::clone(&text)));
            let parsed = match PolicySet::from_str(&text) {
                Ok(p) => p,
                Err(errs) => {
                    for e in errs.iter() {
                        let (line, col) = diagnostic_position(e, &text);
                        errors.push(PolicyError::Parse {
                            file: path.clone(),
                            line,
                            col,
                            reason: diagnostic_message(e),
                        });
                    }
                    continue;
                }
            };
            if parsed.templates().next().is_some() {
                errors.push(PolicyError::Annotation {
                    file: path.clone(),
                    line: 0,
                    col: 0,
                    reason:
                        "templates (policies with `?principal`/`?resource` slots) are not supported"
                            .to_owned(),
                });
            }
            let mut in_file: Vec<&Policy> = parsed.policies().collect();
            // `PolicySet` does not keep file order; the source position does.
            let position = |p: &Policy| {
                p.to_cedar()
                    .and_then(|src| text.find(&src))
                    .unwrap_or(usize::MAX)
            };
            in_file.sort_by_key(|p| position(p));
            for policy in in_file {
                let offset = position(policy);
                let (line, col) = if offset == usize::MAX {
                    (0, 0)
                } else {
                    line_col(&text, offset)
                };
                let Some(id) = policy.annotation("id").map(str::to_owned) else {
                    errors.push(PolicyError::Annotation {
                        file: path.clone(),
                        line,
                        col,
                        reason:
                            "policy has no `@id(\"…\")` annotation; every policy needs a unique id"
                                .to_owned(),
                    });
                    continue;
                };
                if let Some((other, _)) = origin.get(&id) {
                    errors.push(PolicyError::Annotation {
                        file: path.clone(),
                        line,
                        col,
                        reason: format!("`@id(\"{id}\")` is already used in {}", other.display()),
                    });
                    continue;
                }
                let renamed = policy.new_id(PolicyId::new(&id));
                if let Err(e) = set.add(renamed) {
                    errors.push(PolicyError::Annotation {
                        file: path.clone(),
                        line,
                        col,
                        reason: e.to_string(),
                    });
                    continue;
                }
                let reason = policy.annotation("reason").map(str::to_owned);
                if let Some(r) = &reason {
                    reasons.insert(id.clone(), r.clone());
                }
                texts.push(PolicyText {
                    id: id.clone(),
                    file: rel.clone(),
                    line,
                    effect: match policy.effect() {
                        Effect::Permit => "permit",
                        Effect::Forbid => "forbid",
                    },
                    reason,
                    text: with_leading_comment(
                        &text,
                        offset,
                        policy.to_cedar().unwrap_or_else(|| policy.to_string()),
                    ),
                });
                origin.insert(id, (path.clone(), Arc::clone(&text)));
            }
        }

        let action_entities = schema.action_entities().map_err(|e| PolicyError::Schema {
            file: schema_path.clone(),
            line: 0,
            col: 0,
            reason: format!("actions: {e}"),
        })?;
        let validation = Validator::new(schema).validate(&set, ValidationMode::Strict);
        let locate = |id: &PolicyId| -> (PathBuf, Option<Arc<str>>) {
            origin.get(AsRef::<str>::as_ref(id)).map_or_else(
                || (policies_dir.to_owned(), None),
                |(p, t)| (p.clone(), Some(Arc::clone(t))),
            )
        };
        for e in validation.validation_errors() {
            let (file, text) = locate(e.policy_id());
            let (line, col) = text.map_or((0, 0), |t| diagnostic_position(e, &t));
            errors.push(PolicyError::Validation {
                file,
                policy_id: e.policy_id().to_string(),
                line,
                col,
                reason: diagnostic_message(e),
            });
        }
        for w in validation.validation_warnings() {
            let (file, text) = locate(w.policy_id());
            let (line, col) = text.map_or((0, 0), |t| diagnostic_position(w, &t));
            errors.push(PolicyError::Validation {
                file,
                policy_id: w.policy_id().to_string(),
                line,
                col,
                reason: diagnostic_message(w),
            });
        }
        if let Some(e) = PolicyError::from_many(errors) {
            return Err(e);
        }

        bundle.sort_by(|a, b| a.0.cmp(&b.0));
        let hash = ContentHash::of_parts(
            bundle
                .iter()
                .flat_map(|(name, text)| [name.as_bytes(), text.as_bytes()]),
        );

        let type_name = |name: &str| {
            EntityTypeName::from_str(name).map_err(|e| PolicyError::Schema {
                file: schema_path.clone(),
                line: 0,
                col: 0,
                reason: format!("entity type `{name}`: {e}"),
            })
        };
        let region_uid = EntityUid::from_type_name_and_id(
            type_name("Region")?,
            EntityId::new(region.id.as_str()),
        );
        let action_type = type_name("Action")?;
        let actions = PolicyAction::ALL.map(|a| {
            EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(a.as_str()))
        });
        let region_entity = Entity::new(
            region_uid.clone(),
            HashMap::from([
                (
                    "jurisdiction".to_owned(),
                    string(region.jurisdiction.as_str()),
                ),
                (
                    "forbidden_origins".to_owned(),
                    RestrictedExpression::new_set(
                        region.forbidden_origins.iter().map(|j| string(j.as_str())),
                    ),
                ),
                (
                    "allow_private".to_owned(),
                    RestrictedExpression::new_bool(region.allow_private),
                ),
                (
                    "mail_relay".to_owned(),
                    string(&normalise_host(&region.mail_relay)),
                ),
            ]),
            HashSet::new(),
        )
        .map_err(|e| PolicyError::Schema {
            file: schema_path.clone(),
            line: 0,
            col: 0,
            reason: format!("region `{}`: {e}", region.id),
        })?;
        // Global rules first, then the region's own; by file and line within each.
        let order = |t: &PolicyText| {
            (
                !t.file.starts_with(&format!("{GLOBAL_DIR}/")),
                t.file.clone(),
                t.line,
            )
        };
        texts.sort_by_key(order);
        let slices = actions
            .clone()
            .map(|action| slice_for(&set, &action, &action_entities));
        let mut fixed_entities = vec![region_entity];
        fixed_entities.extend(action_entities.iter().cloned());

        Ok(Self {
            inner: Arc::new(Inner {
                facts: region.clone(),
                slices,
                authorizer: Authorizer::new(),
                fixed_entities,
                region_uid,
                actions,
                model_type: type_name("Model")?,
                host_type: type_name("Host")?,
                relay_type: type_name("Relay")?,
                listed: region
                    .egress_allow
                    .iter()
                    .filter(|e| e.names_host())
                    .cloned()
                    .collect(),
                reasons,
                texts,
                hash,
                cache: RwLock::new(Cache::default()),
            }),
        })
    }

    /// Decides one request. Pure and fast (no I/O, no locks): called before
    /// every model call, HTTP request and email.
    ///
    /// Allowed only when a policy permits it and none forbids it (Cedar's
    /// default deny), and when no policy failed to evaluate.
    #[must_use]
    pub fn decide(&self, request: &PolicyRequest<'_>) -> Decision {
        let inner = &*self.inner;
        let (resource_uid, entities) = match self.entities_for(request) {
            Ok(e) => e,
            Err(e) => return Decision::error(e),
        };
        let context = match self.context_for(request) {
            Ok(c) => c,
            Err(e) => return Decision::error(format!("context: {e}")),
        };
        let cedar_request = match Request::new(
            inner.region_uid.clone(),
            inner.actions[request.action.index()].clone(),
            resource_uid,
            context,
            None,
        ) {
            Ok(r) => r,
            Err(e) => return Decision::error(format!("request: {e}")),
        };
        let response = inner.authorizer.is_authorized(
            &cedar_request,
            &inner.slices[request.action.index()],
            &entities,
        );
        let mut determining: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        determining.sort();
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        let allowed = response.decision() == CedarDecision::Allow && errors.is_empty();
        let mut reasons: Vec<String> = determining
            .iter()
            .map(|id| {
                inner
                    .reasons
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| format!("policy `{id}` applies"))
            })
            .collect();
        if !allowed && determining.is_empty() {
            reasons.push(format!(
                "no policy permits `{}` on {} with data classes [{}] (default deny)",
                request.action,
                request.resource.label(),
                request
                    .data_classes
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if !errors.is_empty() && response.decision() == CedarDecision::Allow {
            // The permits matched, but a policy that failed might have been a forbid.
            determining.clear();
            reasons = vec!["denied because a policy failed to evaluate (fail closed)".to_owned()];
        }
        Decision {
            allowed,
            determining_policies: determining,
            reasons,
            errors,
        }
    }

    /// The request's entities (cached by resource) and its resource's uid.
    fn entities_for(
        &self,
        request: &PolicyRequest<'_>,
    ) -> Result<(EntityUid, Arc<Entities>), String> {
        let inner = &*self.inner;
        let key = match request.resource {
            PolicyResource::Model(m) => ResourceKey::Model(m.clone()),
            PolicyResource::Host {
                name,
                port,
                private,
                admitted,
            } => ResourceKey::Host(name.to_owned(), port, private, admitted),
            PolicyResource::Relay { host } => ResourceKey::Relay(host.to_owned()),
        };
        if let Ok(cache) = inner.cache.read()
            && let Some((uid, entities)) = cache.entities.get(&key)
        {
            // The action/resource pairing is checked on every call, cached or not.
            return self
                .check_pairing(request)
                .map(|()| (uid.clone(), Arc::clone(entities)));
        }
        let resource = self.resource_entity(request)?;
        let uid = resource.uid();
        let entities = inner.fixed_entities.iter().cloned().chain([resource]);
        let entities = Arc::new(
            Entities::from_entities(entities, None).map_err(|e| format!("entities: {e}"))?,
        );
        if let Ok(mut cache) = inner.cache.write()
            && cache.entities.len() < CACHE_LIMIT
        {
            cache
                .entities
                .insert(key, (uid.clone(), Arc::clone(&entities)));
        }
        Ok((uid, entities))
    }

    /// The request's context (cached by data classes and purpose).
    fn context_for(&self, request: &PolicyRequest<'_>) -> Result<Context, String> {
        let inner = &*self.inner;
        let mask = request.data_classes.iter().fold(0u8, |m, c| {
            m | match c {
                DataClass::Public => 1,
                DataClass::Derived => 2,
                DataClass::Personal => 4,
            }
        });
        if let Ok(cache) = inner.cache.read()
            && let Some(context) = cache.contexts.get(&(mask, request.purpose.to_owned()))
        {
            return Ok(context.clone());
        }
        let context = payload_context(request)?;
        if let Ok(mut cache) = inner.cache.write()
            && cache.contexts.len() < CACHE_LIMIT
        {
            cache
                .contexts
                .insert((mask, request.purpose.to_owned()), context.clone());
        }
        Ok(context)
    }

    /// Whether the action applies to the kind of resource.
    fn check_pairing(&self, request: &PolicyRequest<'_>) -> Result<(), String> {
        match (request.action, request.resource) {
            (PolicyAction::InvokeModel | PolicyAction::Transcribe, PolicyResource::Model(_))
            | (PolicyAction::Fetch, PolicyResource::Host { .. })
            | (PolicyAction::SendEmail, PolicyResource::Relay { .. }) => Ok(()),
            (
                PolicyAction::InvokeModel
                | PolicyAction::Transcribe
                | PolicyAction::Fetch
                | PolicyAction::SendEmail,
                _,
            ) => Err(format!(
                "action `{}` does not apply to {}",
                request.action,
                request.resource.label()
            )),
        }
    }

    /// The resource entity of a request, checking that the action applies to it.
    fn resource_entity(&self, request: &PolicyRequest<'_>) -> Result<Entity, String> {
        let inner = &*self.inner;
        let mismatch = || {
            format!(
                "action `{}` does not apply to {}",
                request.action,
                request.resource.label()
            )
        };
        let (uid, attrs) = match (request.action, request.resource) {
            (PolicyAction::InvokeModel | PolicyAction::Transcribe, PolicyResource::Model(m)) => (
                EntityUid::from_type_name_and_id(inner.model_type.clone(), EntityId::new(&m.name)),
                model_attrs(m),
            ),
            (
                PolicyAction::Fetch,
                PolicyResource::Host {
                    name,
                    port,
                    private,
                    admitted,
                },
            ) => {
                let name = normalise_host(name);
                let listed = inner.listed.iter().any(|e| e.names(&name, Some(port)));
                let uid = EntityUid::from_type_name_and_id(
                    inner.host_type.clone(),
                    EntityId::new(format!("{name}:{port}")),
                );
                let attrs = HashMap::from([
                    ("name".to_owned(), RestrictedExpression::new_string(name)),
                    (
                        "port".to_owned(),
                        RestrictedExpression::new_long(i64::from(port)),
                    ),
                    (
                        "private".to_owned(),
                        RestrictedExpression::new_bool(private),
                    ),
                    ("listed".to_owned(), RestrictedExpression::new_bool(listed)),
                    (
                        "admitted".to_owned(),
                        RestrictedExpression::new_bool(admitted),
                    ),
                ]);
                (uid, attrs)
            }
            (PolicyAction::SendEmail, PolicyResource::Relay { host }) => {
                let host = normalise_host(host);
                let uid = EntityUid::from_type_name_and_id(
                    inner.relay_type.clone(),
                    EntityId::new(&host),
                );
                (
                    uid,
                    HashMap::from([("host".to_owned(), RestrictedExpression::new_string(host))]),
                )
            }
            (
                PolicyAction::InvokeModel
                | PolicyAction::Transcribe
                | PolicyAction::Fetch
                | PolicyAction::SendEmail,
                _,
            ) => {
                return Err(mismatch());
            }
        };
        Entity::new(uid, attrs, HashSet::new())
            .map_err(|e| format!("{}: {e}", request.resource.label()))
    }

    /// SHA-256 over the bundle's files (the schema and every loaded policy
    /// file): names relative to the policies directory and contents,
    /// length-prefixed, in sorted name order. Recorded in the audit report so
    /// that a reader can tell which rules were in force.
    #[must_use]
    pub fn bundle_hash(&self) -> ContentHash {
        self.inner.hash
    }

    /// Every policy in force: global ones first, then the region's own, each
    /// in file and line order.
    #[must_use]
    pub fn policies(&self) -> Vec<PolicyText> {
        self.inner.texts.clone()
    }

    /// The region facts the gate was loaded with.
    #[must_use]
    pub fn facts(&self) -> &RegionFacts {
        &self.inner.facts
    }
}

impl Decision {
    /// A denial because the request could not be put to the engine.
    fn error(message: String) -> Self {
        Self {
            allowed: false,
            determining_policies: Vec::new(),
            reasons: vec![
                "denied because the request could not be evaluated (fail closed)".to_owned(),
            ],
            errors: vec![message],
        }
    }
}

/// The policies of `set` that can apply to `action`: those whose action scope
/// is unconstrained, names it, or names a group it belongs to.
fn slice_for(set: &PolicySet, action: &EntityUid, action_entities: &Entities) -> PolicySet {
    let groups: HashSet<&EntityUid> = action_entities
        .ancestors(action)
        .map(Iterator::collect)
        .unwrap_or_default();
    let matches = |uid: &EntityUid| uid == action || groups.contains(uid);
    let mut slice = PolicySet::new();
    for p in set.policies() {
        let applies = match p.action_constraint() {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(uid) => matches(&uid),
            ActionConstraint::In(uids) => uids.iter().any(matches),
        };
        if applies {
            // Ids are unique in `set`, so adding cannot fail.
            let added = slice.add(p.clone());
            debug_assert!(added.is_ok(), "policy ids are unique");
        }
    }
    slice
}

/// The `Payload` context: data classes and purpose.
fn payload_context(request: &PolicyRequest<'_>) -> Result<Context, String> {
    Context::from_pairs([
        (
            "data_classes".to_owned(),
            RestrictedExpression::new_set(request.data_classes.iter().map(|c| string(c.as_str()))),
        ),
        ("purpose".to_owned(), string(request.purpose)),
    ])
    .map_err(|e| e.to_string())
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn model_attrs(m: &ModelFacts) -> HashMap<String, RestrictedExpression> {
    let mut attrs = HashMap::from([
        ("name".to_owned(), string(&m.name)),
        ("provider".to_owned(), string(&m.provider)),
        ("hosted_in".to_owned(), string(m.hosted_in.as_str())),
        (
            "hosted_in_eu".to_owned(),
            RestrictedExpression::new_bool(m.hosted_in.is_in_eu()),
        ),
        ("origin".to_owned(), string(m.origin.as_str())),
        ("weights".to_owned(), string(&m.weights)),
        (
            "attributes".to_owned(),
            RestrictedExpression::new_set(m.attributes.iter().map(|a| string(a))),
        ),
    ]);
    if let Some(d) = &m.digest {
        attrs.insert("digest".to_owned(), string(d));
    }
    attrs
}

/// Host names compare case-insensitively, without IPv6 brackets or a trailing dot.
fn normalise_host(host: &str) -> String {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(h);
    h.trim_end_matches('.').to_ascii_lowercase()
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|e| PolicyError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// The `*.cedar` files of one folder, sorted, as (name relative to the policies dir, path).
fn policy_files(policies_dir: &Path, folder: &str) -> Result<Vec<(String, PathBuf)>, PolicyError> {
    let dir = policies_dir.join(folder);
    let entries = std::fs::read_dir(&dir).map_err(|e| PolicyError::Io {
        path: dir.clone(),
        reason: if e.kind() == std::io::ErrorKind::NotFound {
            "policy folder missing; create it (an empty folder means: global rules only)".to_owned()
        } else {
            e.to_string()
        },
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| PolicyError::Io {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        let path = entry.path();
        if path.is_file() && path.extension().is_some_and(|x| x == "cedar") {
            let name = entry.file_name().to_string_lossy().into_owned();
            files.push((format!("{folder}/{name}"), path));
        }
    }
    files.sort();
    Ok(files)
}

fn parse_schema(path: &Path, text: &str) -> Result<Schema, PolicyError> {
    match Schema::from_cedarschema_str(text) {
        Ok((schema, warnings)) => {
            // Shadowing warnings (a type named like a builtin) are harmless for
            // us; they are dropped rather than turned into errors.
            drop(warnings);
            Ok(schema)
        }
        Err(e) => {
            let (line, col) = diagnostic_position(&e, text);
            Err(PolicyError::Schema {
                file: path.to_owned(),
                line,
                col,
                reason: diagnostic_message(&e),
            })
        }
    }
}

/// The line and column (1-based) of a diagnostic's first labelled span in `text`.
fn diagnostic_position(d: &dyn miette::Diagnostic, text: &str) -> (usize, usize) {
    let first = d.labels().and_then(|mut labels| labels.next()).or_else(|| {
        // Some errors wrap the located one.
        d.related()
            .and_then(|mut r| r.next())
            .and_then(|inner| inner.labels().and_then(|mut l| l.next()))
    });
    first.map_or((0, 0), |label| line_col(text, label.offset()))
}

/// The diagnostic's message, with its help text when it has one.
fn diagnostic_message(d: &dyn miette::Diagnostic) -> String {
    let mut msg = d.to_string();
    if let Some(label) = d
        .labels()
        .and_then(|mut l| l.next())
        .and_then(|l| l.label().map(str::to_owned))
        && !msg.contains(&label)
    {
        msg = format!("{msg} ({label})");
    }
    if let Some(help) = d.help() {
        msg = format!("{msg}; help: {help}");
    }
    msg
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

/// The policy's source with the `//` comment block directly above it (the rule it encodes).
fn with_leading_comment(text: &str, offset: usize, policy: String) -> String {
    if offset == usize::MAX {
        return policy;
    }
    let before = text.get(..offset).unwrap_or("");
    let mut comment: Vec<&str> = Vec::new();
    for line in before.lines().rev() {
        let t = line.trim();
        if t.starts_with("//") {
            comment.push(line);
        } else {
            break;
        }
    }
    if before.ends_with('\n') || before.is_empty() {
        comment.reverse();
        let mut out = comment.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&policy);
        out
    } else {
        policy
    }
}

/// The data classes as written in policies, for messages.
#[must_use]
pub fn class_list(classes: &[DataClass]) -> String {
    classes
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `decide` skips schema validation of entities and requests for speed;
    /// this checks that what it builds for each kind of resource conforms.
    #[test]
    fn requests_built_by_decide_conform_to_the_schema() {
        use meridian_core::{Jurisdiction, RegionId};

        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies"));
        let schema_text = std::fs::read_to_string(dir.join(SCHEMA_FILE)).unwrap();
        let schema = parse_schema(&dir.join(SCHEMA_FILE), &schema_text).unwrap();
        let mut facts = RegionFacts::new(
            RegionId::parse("us").unwrap(),
            Jurisdiction::parse("US").unwrap(),
        );
        facts.forbidden_origins = vec![Jurisdiction::parse("CN").unwrap()];
        let gate = PolicyGate::load(dir, &facts).unwrap();
        let model = |digest: Option<&str>| ModelFacts {
            name: "gpt".into(),
            provider: "openai".into(),
            hosted_in: Jurisdiction::parse("US").unwrap(),
            origin: Jurisdiction::parse("US").unwrap(),
            weights: "closed".into(),
            digest: digest.map(str::to_owned),
            attributes: vec!["dpf".into()],
        };
        let (pinned, unpinned) = (model(Some("sha256:00")), model(None));
        let requests = [
            (PolicyAction::InvokeModel, PolicyResource::Model(&pinned)),
            (PolicyAction::Transcribe, PolicyResource::Model(&unpinned)),
            (
                PolicyAction::Fetch,
                PolicyResource::Host {
                    name: "[::1]",
                    port: 8080,
                    private: true,
                    admitted: true,
                },
            ),
            (
                PolicyAction::SendEmail,
                PolicyResource::Relay { host: "outbox" },
            ),
        ];
        for (action, resource) in requests {
            let classes = [DataClass::Public, DataClass::Personal];
            let request = PolicyRequest {
                action,
                resource,
                data_classes: &classes,
                purpose: "test",
            };
            let entity = gate.resource_entity(&request).unwrap();
            let uid = entity.uid();
            let entities = Entities::from_entities(
                gate.inner.fixed_entities.iter().cloned().chain([entity]),
                Some(&schema),
            );
            assert!(entities.is_ok(), "{action}: {:?}", entities.err());
            let context = payload_context(&request).unwrap();
            let checked = Request::new(
                gate.inner.region_uid.clone(),
                gate.inner.actions[action.index()].clone(),
                uid,
                context,
                Some(&schema),
            );
            assert!(checked.is_ok(), "{action}: {:?}", checked.err());
        }
    }

    #[test]
    fn positions_are_one_based_in_characters() {
        let text = "ab\n中文x\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3));
    }

    #[test]
    fn leading_comments_travel_with_the_policy() {
        let text = "// other\n\n// rule one\n// rule two\npermit(principal, action, resource);\n";
        let offset = text.find("permit").unwrap();
        let out = with_leading_comment(
            text,
            offset,
            "permit(principal, action, resource);".to_owned(),
        );
        assert_eq!(
            out,
            "// rule one\n// rule two\npermit(principal, action, resource);"
        );
    }
}
