//! Speech-to-text for episodes without any transcript: the region's
//! `transcribe` role.
//!
//! [`transcribe`] downloads the episode's enclosure through the region's
//! egress client (so the allow-list, the address checks and a size cap of
//! [`MAX_AUDIO_BYTES`] apply) and sends it to the first usable model of the
//! region's [`TranscribeChain`]: `POST {endpoint}/audio/transcriptions` of an
//! OpenAI-compatible server (OpenAI, whisper.cpp's server, faster-whisper,
//! vLLM), asking for `verbose_json` so that the segments keep their start and
//! end times. The result is a [`Transcript`] with
//! [`TranscriptSource::SpeechToText`].
//!
//! The fallback walks only the region's own list, with the same retries,
//! breaker, concurrency limit and token budget as the `insight` role. There
//! is no builtin speech-to-text: when no model is usable or all fail, the
//! error tells the runtime to use the show notes instead. Ollama serves no
//! transcription API, so an `ollama` entry in this role is skipped with that
//! reason.

use std::sync::Arc;

use meridian_config::{ModelConfig, ModelRole, ProviderKind};
use meridian_core::{DataClass, Enclosure, RegionId, Segment, Transcript, TranscriptSource};
use meridian_egress::{EgressClient, FetchOutcome, Validators};

use crate::chain::{Attempt, Chain, ChainRole, ModelStatus, RoleCall};
use crate::gate::CallGate;
use crate::openai::WireTranscription;
use crate::provider::{AudioRequest, ChatApi as _, TranscribeProvider};
use crate::resilience::{ModelGuard, TokenBudget, Usage};
use crate::{ModelError, ModelProvider, OpenAiProvider, ProviderError};

/// The largest enclosure downloaded for speech-to-text: OpenAI's upload limit
/// for `/audio/transcriptions`, which compatible servers share or exceed.
pub const MAX_AUDIO_BYTES: u64 = 25 * 1024 * 1024;

/// An episode's transcript made by speech-to-text, and how.
#[derive(Debug, Clone)]
pub struct Transcription {
    /// The model entry that made it.
    pub model: String,
    /// The transcript: timed segments, source [`TranscriptSource::SpeechToText`].
    pub transcript: Transcript,
    /// Every model tried, in order, the successful one last.
    pub attempts: Vec<Attempt>,
}

/// The `transcribe` role: episode audio in, a timed transcript out; only
/// providers with a speech-to-text API have it.
pub(crate) struct TranscribeRole;

/// What a transcription call sends: episode audio (public data).
const AUDIO_CLASSES: [DataClass; 1] = [DataClass::Public];

impl ChainRole for TranscribeRole {
    const NAME: &'static str = "transcribe";
    const MODEL_ROLE: ModelRole = ModelRole::Transcribe;
    const DATA_CLASSES: &'static [DataClass] = &AUDIO_CLASSES;

    fn unsupported(config: &ModelConfig) -> Option<String> {
        match config.provider {
            ProviderKind::OpenAi => None,
            ProviderKind::Ollama => Some(
                "Ollama serves no speech-to-text API; use an OpenAI-compatible server (whisper.cpp, faster-whisper, vLLM)"
                    .to_owned(),
            ),
            ProviderKind::Builtin => Some("the builtin engine does no speech-to-text".to_owned()),
        }
    }

    fn operation(_provider: &ModelProvider) -> &'static str {
        "transcription"
    }
}

impl RoleCall<AudioRequest<'_>> for TranscribeRole {
    type Output = Transcript;

    fn estimate(_provider: &ModelProvider, _req: &AudioRequest<'_>) -> Option<u64> {
        // No prompt to estimate, but some budget must be left.
        Some(0)
    }

    async fn call(
        provider: &ModelProvider,
        req: &AudioRequest<'_>,
        guard: &ModelGuard,
        usage: &Usage,
    ) -> Result<Transcript, ProviderError> {
        match provider.transcriber() {
            Some(transcriber) => transcriber.transcribe(req, guard, usage).await,
            // Not reached: the chain skips entries `unsupported` names.
            None => Err(ProviderError::Config {
                model: String::new(),
                reason: "no speech-to-text API".to_owned(),
            }),
        }
    }
}

impl TranscribeProvider for OpenAiProvider {
    async fn transcribe(
        &self,
        req: &AudioRequest<'_>,
        guard: &ModelGuard,
        usage: &Usage,
    ) -> Result<Transcript, ProviderError> {
        let reply = guard
            .call(|| self.transcribe_audio(req.audio.clone(), req.filename, req.language))
            .await?;
        if let Some(u) = &reply.usage {
            usage.add(u.input_tokens, u.output_tokens);
        }
        to_transcript(reply, req.language, self)
    }
}

/// The `transcribe` role of one region: its models in order.
#[derive(Debug)]
pub struct TranscribeChain {
    chain: Chain<TranscribeRole>,
}

impl TranscribeChain {
    /// Builds the chain from the region's own `transcribe` list. `build` makes
    /// the provider of a remote model (the runtime passes the region's egress
    /// clients); entries of a provider without a transcription API are kept,
    /// marked unusable.
    pub fn new(
        region: RegionId,
        configs: &[ModelConfig],
        build: impl FnMut(&ModelConfig) -> Result<ModelProvider, ProviderError>,
    ) -> Self {
        Self {
            chain: Chain::new(region, configs, build),
        }
    }

    /// Uses the region's shared daily token budget.
    #[must_use]
    pub fn with_budget(self, budget: Arc<TokenBudget>) -> Self {
        Self {
            chain: self.chain.with_budget(budget),
        }
    }

    /// Asks `gate` before every model call and tells it how each ended.
    #[must_use]
    pub fn with_gate(self, gate: Arc<dyn CallGate>) -> Self {
        Self {
            chain: self.chain.with_gate(gate),
        }
    }

    /// The models in order, with why each would be skipped.
    #[must_use]
    pub fn status(&self) -> Vec<ModelStatus> {
        self.chain.status()
    }

    /// Whether any model of the role can be used at all (its breaker may
    /// still be open for a while).
    #[must_use]
    pub fn has_usable_model(&self) -> bool {
        self.chain.has_usable_model()
    }

    /// Transcribes `audio` (a file named `filename`, whose extension tells the
    /// server its format) with the first model of the list that succeeds.
    /// `language` (ISO 639-1, e.g. `en`) helps the model when known.
    ///
    /// # Errors
    /// [`ModelError::NoUsableModel`] when the role has no usable model;
    /// [`ModelError::StackExhausted`] with every model's attempt when none
    /// succeeded.
    pub async fn transcribe_audio(
        &self,
        audio: bytes::Bytes,
        filename: &str,
        language: Option<&str>,
    ) -> Result<Transcription, ModelError> {
        if !self.has_usable_model() {
            return Err(self.no_usable_model());
        }
        let language = language.map(iso_language).filter(|l| !l.is_empty());
        let req = AudioRequest {
            audio,
            filename,
            language: language.as_deref(),
        };
        let answer = self.chain.run(&req).await?;
        Ok(Transcription {
            model: answer.model,
            transcript: answer.output,
            attempts: answer.attempts,
        })
    }

    fn no_usable_model(&self) -> ModelError {
        ModelError::NoUsableModel {
            region: self.chain.region.clone(),
            role: TranscribeRole::NAME,
        }
    }
}

/// Transcribes an episode's audio: downloads `enclosure` through the region's
/// `egress` client, at most [`MAX_AUDIO_BYTES`], and hands it to `chain`.
///
/// Nothing is downloaded when the chain has no usable model, or when the feed
/// declares a larger file than the cap.
///
/// # Errors
/// [`ModelError::NoUsableModel`]; [`ModelError::AudioUnavailable`] when the
/// audio cannot be fetched (refused by egress, HTTP error, too large);
/// [`ModelError::StackExhausted`] when every model failed. In each case the
/// runtime falls back to the show notes.
pub async fn transcribe(
    chain: &TranscribeChain,
    egress: &EgressClient,
    enclosure: &Enclosure,
    language: Option<&str>,
) -> Result<Transcription, ModelError> {
    if !chain.has_usable_model() {
        return Err(chain.no_usable_model());
    }
    let unavailable = |reason: String| ModelError::AudioUnavailable {
        region: chain.chain.region.clone(),
        url: enclosure.url.clone(),
        reason,
    };
    let url =
        url::Url::parse(&enclosure.url).map_err(|e| unavailable(format!("not a URL: {e}")))?;
    if let Some(length) = enclosure.length
        && length > MAX_AUDIO_BYTES
    {
        return Err(unavailable(format!(
            "the feed declares {length} bytes, more than the {MAX_AUDIO_BYTES}-byte limit for speech-to-text"
        )));
    }
    let fetched = match egress
        .get(&url, &Validators::default(), Some(MAX_AUDIO_BYTES))
        .await
    {
        Ok(FetchOutcome::Fetched(fetched)) => fetched,
        Ok(FetchOutcome::NotModified { .. }) => {
            return Err(unavailable(
                "the server answered 304 Not Modified to an unconditional request".to_owned(),
            ));
        }
        Err(e) => return Err(unavailable(e.to_string())),
    };
    if fetched.body.is_empty() {
        return Err(unavailable("the file is empty".to_owned()));
    }
    let filename = audio_filename(
        &fetched.final_url,
        fetched
            .content_type
            .as_deref()
            .or(enclosure.mime_type.as_deref()),
    );
    chain
        .transcribe_audio(fetched.body, &filename, language)
        .await
}

/// A file name for the upload: the URL's last path segment when it has an
/// audio extension, else `audio.<ext>` from the MIME type (servers tell the
/// format by the extension).
fn audio_filename(url: &url::Url, mime_type: Option<&str>) -> String {
    const KNOWN: [&str; 10] = [
        "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "oga", "wav", "webm", "flac",
    ];
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    if let Some((stem, ext)) = last.rsplit_once('.')
        && !stem.is_empty()
        && KNOWN.contains(&ext.to_ascii_lowercase().as_str())
    {
        return last.to_owned();
    }
    let mime = mime_type
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let ext = match mime.as_str() {
        "audio/mp4" | "audio/x-m4a" | "audio/m4a" | "audio/aac" => "m4a",
        "video/mp4" => "mp4",
        "audio/ogg" | "audio/opus" | "application/ogg" => "ogg",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        "audio/webm" | "video/webm" => "webm",
        "audio/flac" | "audio/x-flac" => "flac",
        // audio/mpeg, audio/mp3 and anything unknown: podcasts are mostly MP3.
        _ => "mp3",
    };
    format!("audio.{ext}")
}

/// An ISO 639-1 code from a language tag (`en-US` → `en`) or from the
/// language name whisper reports (`english` → `en`); empty when unknown.
fn iso_language(value: &str) -> String {
    let value = value.trim().to_ascii_lowercase();
    let primary = value.split(['-', '_']).next().unwrap_or_default();
    if (2..=3).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic()) {
        return primary.to_owned();
    }
    let code = match primary {
        "english" => "en",
        "chinese" | "mandarin" => "zh",
        "german" => "de",
        "french" => "fr",
        "spanish" => "es",
        "italian" => "it",
        "portuguese" => "pt",
        "dutch" => "nl",
        "japanese" => "ja",
        "korean" => "ko",
        "russian" => "ru",
        _ => "",
    };
    code.to_owned()
}

/// The transcript of a `verbose_json` reply: its segments with their times
/// (text trimmed, empty ones dropped), or the whole text as one segment when
/// the server sent none.
fn to_transcript(
    reply: WireTranscription,
    language: Option<&str>,
    provider: &OpenAiProvider,
) -> Result<Transcript, ProviderError> {
    let mut segments: Vec<Segment> = reply
        .segments
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| {
            let text = meridian_core::text::normalize_whitespace(&s.text);
            (!text.is_empty()).then_some(Segment {
                start: Some(s.start).filter(|t| t.is_finite() && *t >= 0.0),
                end: Some(s.end).filter(|t| t.is_finite() && *t >= 0.0),
                speaker: None,
                text,
            })
        })
        .collect();
    if segments.is_empty() {
        let text = meridian_core::text::normalize_whitespace(&reply.text);
        if !text.is_empty() {
            segments.push(Segment {
                start: Some(0.0),
                end: reply.duration,
                speaker: None,
                text,
            });
        }
    }
    if segments.is_empty() {
        return Err(ProviderError::BadOutput {
            model: provider.entry_name().to_owned(),
            host: provider.host().to_owned(),
            reason: "the transcription has no text".to_owned(),
        });
    }
    let language = language
        .map(str::to_owned)
        .or_else(|| reply.language.as_deref().map(iso_language))
        .filter(|l| !l.is_empty());
    Ok(Transcript {
        source: TranscriptSource::SpeechToText,
        language,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_keep_audio_extensions_or_follow_the_mime_type() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            audio_filename(&u("https://cdn.example/ep/42.mp3?x=1"), None),
            "42.mp3"
        );
        assert_eq!(
            audio_filename(&u("https://cdn.example/ep/42.M4A"), None),
            "42.M4A"
        );
        assert_eq!(
            audio_filename(
                &u("https://cdn.example/download?id=42"),
                Some("audio/x-m4a")
            ),
            "audio.m4a"
        );
        assert_eq!(
            audio_filename(
                &u("https://cdn.example/ep/42"),
                Some("audio/ogg; codecs=opus")
            ),
            "audio.ogg"
        );
        assert_eq!(
            audio_filename(&u("https://cdn.example/ep/42"), None),
            "audio.mp3"
        );
    }

    #[test]
    fn languages_become_iso_codes() {
        assert_eq!(iso_language("en-US"), "en");
        assert_eq!(iso_language("zh_CN"), "zh");
        assert_eq!(iso_language("english"), "en");
        assert_eq!(iso_language("Chinese"), "zh");
        assert_eq!(iso_language("klingon"), "");
    }
}
