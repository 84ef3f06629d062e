//! Data classes as types: what may be written into a model prompt.
//!
//! A prompt may carry public data (feeds, transcripts, show notes) and
//! derived data (insights), never personal data (subscriber addresses and
//! names). This module makes that a property of types rather than of care:
//!
//! - [`PromptSafe`] is implemented, here and only here (it is sealed), for the
//!   public and derived types, each with its [`DataClass`]. It is not
//!   implemented for [`SubscriberEmail`](crate::SubscriberEmail) or anything
//!   else holding personal data.
//! - [`PromptText`] is built only from `&'static str` (words written into the
//!   program: instructions, headings), numbers, and [`PromptSafe`] values
//!   rendered by a plain `fn` pointer. A `fn` pointer cannot capture anything,
//!   so the renderer can write out only the value it is handed. There is no
//!   way to push a `String` made at run time.
//! - [`PromptText::data_classes`] reports what the prompt holds, for the
//!   policy gate's request: the classes are counted by construction, not
//!   declared by the caller.
//!
//! A subscriber address does not fit:
//!
//! ```compile_fail
//! use meridian_core::{PromptText, SubscriberEmail};
//! let email = SubscriberEmail::parse("ada@example.com").unwrap();
//! let mut prompt = PromptText::new();
//! prompt.push(&email, |e, out| out.push_str(e.as_str())); // SubscriberEmail is not PromptSafe
//! ```
//!
//! nor can a renderer smuggle one in beside a safe value:
//!
//! ```compile_fail,E0308
//! use meridian_core::{Insight, PromptText, SubscriberEmail};
//! let insight = Insight {
//!     text: "Backups are only real once restored.".into(),
//!     quote: "a backup you never restored is a hope".into(),
//!     start: Some(62.0),
//!     importance: 0.8,
//!     why: String::new(),
//!     model: "builtin".into(),
//!     speaker: None,
//! };
//! let email = SubscriberEmail::parse("ada@example.com").unwrap();
//! let mut prompt = PromptText::new();
//! prompt.push(&insight, |_, out| out.push_str(email.as_str())); // a capturing closure is not a `fn`
//! ```
//!
//! nor as run-time text:
//!
//! ```compile_fail
//! use meridian_core::{PromptText, SubscriberEmail};
//! let email = SubscriberEmail::parse("ada@example.com").unwrap();
//! let mut prompt = PromptText::new();
//! prompt.instruction(email.as_str()); // instructions are `&'static str`
//! ```

use std::fmt;

use crate::{
    DataClass, Digest, DigestItem, EpisodeMeta, Insight, PodcastFeed, Segment, Transcript,
};

mod sealed {
    /// Only `meridian-core` can implement [`super::PromptSafe`].
    pub trait Sealed {}
}

/// Data that may be written into a model prompt: public or derived, never
/// personal. Sealed: the set of implementations is this module's list.
pub trait PromptSafe: sealed::Sealed {
    /// The class of the data: [`DataClass::Public`] or [`DataClass::Derived`].
    const DATA_CLASS: DataClass;
}

macro_rules! prompt_safe {
    ($class:ident: $($t:ty),+) => {$(
        impl sealed::Sealed for $t {}
        impl PromptSafe for $t {
            const DATA_CLASS: DataClass = DataClass::$class;
        }
    )+};
}

prompt_safe!(Public: Transcript, Segment, EpisodeMeta, PodcastFeed, PublicText);
prompt_safe!(Derived: Insight, DigestItem, Digest);

/// Text from a public source that has no type of its own here: a podcast or
/// episode title taken from a feed, a feed URL. Constructing one is a claim
/// that the text is public; code review should see every `PublicText::new`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicText(String);

impl PublicText {
    /// Wraps text read from a public source.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A model prompt under construction, and the data classes it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PromptText {
    text: String,
    public: bool,
    derived: bool,
}

impl PromptText {
    /// An empty prompt.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends words written into the program (instructions, headings,
    /// separators). Only `&'static str` is accepted, so no value made at run
    /// time can pass here.
    pub fn instruction(&mut self, text: &'static str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a number (a limit, a count).
    pub fn number(&mut self, n: u64) -> &mut Self {
        self.text.push_str(&n.to_string());
        self
    }

    /// Appends a public or derived value as `render` writes it. `render` is a
    /// `fn` pointer (a non-capturing closure coerces to one), so all it can
    /// write is what it reads from `value`.
    pub fn push<T: PromptSafe>(&mut self, value: &T, render: fn(&T, &mut String)) -> &mut Self {
        // Checked when this is compiled for `T`: no `PromptSafe` type may be personal.
        const {
            assert!(
                !matches!(T::DATA_CLASS, DataClass::Personal),
                "a PromptSafe type must not be personal data"
            )
        };
        match T::DATA_CLASS {
            DataClass::Public => self.public = true,
            DataClass::Derived => self.derived = true,
            DataClass::Personal => {}
        }
        render(value, &mut self.text);
        self
    }

    /// The prompt's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The prompt's text, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.text
    }

    /// The classes of the data pushed so far, for the policy gate's request
    /// (instructions and numbers are Meridian's own words and count as none).
    #[must_use]
    pub fn data_classes(&self) -> &'static [DataClass] {
        match (self.public, self.derived) {
            (false, false) => &[],
            (true, false) => &[DataClass::Public],
            (false, true) => &[DataClass::Derived],
            (true, true) => &[DataClass::Public, DataClass::Derived],
        }
    }
}

impl fmt::Display for PromptText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TranscriptSource;

    fn insight() -> Insight {
        Insight {
            text: "Rates fall in spring.".into(),
            quote: "we expect rates to fall".into(),
            start: Some(12.0),
            importance: 0.8,
            why: String::new(),
            model: "builtin".into(),
            speaker: None,
        }
    }

    #[test]
    fn a_prompt_counts_the_classes_it_holds() {
        let mut prompt = PromptText::new();
        prompt
            .instruction("List at most ")
            .number(5)
            .instruction(" insights.\n");
        assert_eq!(
            prompt.data_classes(),
            &[] as &[DataClass],
            "instructions carry no data class"
        );

        let transcript = Transcript {
            source: TranscriptSource::ShowNotes,
            language: None,
            segments: vec![Segment {
                start: None,
                end: None,
                speaker: None,
                text: "Hello.".into(),
            }],
        };
        prompt.push(&PublicText::new("Episode 1"), |t, out| {
            out.push_str(t.as_str())
        });
        prompt.push(&transcript, |t, out| out.push_str(&t.plain_text()));
        assert_eq!(prompt.data_classes(), [DataClass::Public]);
        prompt.push(&insight(), |i, out| out.push_str(&i.text));
        assert_eq!(
            prompt.data_classes(),
            [DataClass::Public, DataClass::Derived]
        );
        assert_eq!(
            prompt.as_str(),
            "List at most 5 insights.\nEpisode 1Hello.Rates fall in spring."
        );
    }

    #[test]
    fn every_prompt_safe_type_is_public_or_derived() {
        fn class<T: PromptSafe>() -> DataClass {
            T::DATA_CLASS
        }
        for c in [
            class::<Transcript>(),
            class::<Segment>(),
            class::<EpisodeMeta>(),
            class::<PodcastFeed>(),
            class::<PublicText>(),
            class::<Insight>(),
            class::<DigestItem>(),
            class::<Digest>(),
        ] {
            assert_ne!(c, DataClass::Personal);
        }
    }
}
