//! Span and field names shared by every crate, so that logs, traces and the
//! audit report use the same words.

/// Field carrying the region id on every span.
pub const REGION: &str = "region";
/// Field carrying a feed URL.
pub const FEED_URL: &str = "feed.url";
/// Field carrying an episode guid.
pub const EPISODE_GUID: &str = "episode.guid";
/// OpenTelemetry GenAI: the operation (`chat`, `extract`).
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// OpenTelemetry GenAI: the provider (`openai`, `ollama`, `builtin`).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// OpenTelemetry GenAI: the requested model.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// OpenTelemetry GenAI: prompt tokens.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// OpenTelemetry GenAI: completion tokens.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
