//! The double opt-in email: it asks whoever owns an address to confirm a
//! subscription, in the subscriber's locale, with the confirm link and a link
//! to stop all mail to the address.
//!
//! ```
//! use meridian_core::Locale;
//! use meridian_digest::confirmation::{ConfirmationContext, render_confirmation};
//!
//! let ctx = ConfirmationContext {
//!     locale: Locale::parse("zh-CN").unwrap(),
//!     region_name: "中国".to_owned(),
//!     confirm_url: "https://cn.example/confirm?token=c.1.2.x".to_owned(),
//!     unsubscribe_url: "https://cn.example/unsubscribe?token=u.1.2.y".to_owned(),
//!     valid_hours: 72,
//! };
//! let mail = render_confirmation(&ctx).unwrap();
//! assert!(mail.subject.contains("确认订阅"));
//! assert!(mail.text.contains("https://cn.example/confirm?token=c.1.2.x"));
//! ```
//!
//! Same languages and fallbacks as [`crate::render`]. The email is not
//! AI-generated, so it carries no AI label.

use minijinja::value::{Serde, Value};
use serde::Serialize;

use meridian_core::Locale;

use crate::render::{ENVIRONMENT, Lang, RenderError, RenderedDigest};

pub(crate) const HTML_TEMPLATE: &str = "confirmation.html";
pub(crate) const TEXT_TEMPLATE: &str = "confirmation.txt";

/// What the confirmation email says besides its fixed words.
#[derive(Debug, Clone)]
pub struct ConfirmationContext {
    /// The subscriber's locale (the region's, unless they chose another).
    pub locale: Locale,
    /// The region's display name.
    pub region_name: String,
    /// The link that confirms (carries a signed, expiring token).
    pub confirm_url: String,
    /// The link that stops all mail to the address.
    pub unsubscribe_url: String,
    /// How long the confirm link works, in hours.
    pub valid_hours: u32,
}

/// Renders the confirmation email (subject, HTML and text).
///
/// # Errors
/// [`RenderError::Confirmation`] when a template fails.
pub fn render_confirmation(ctx: &ConfirmationContext) -> Result<RenderedDigest, RenderError> {
    let env = ENVIRONMENT.as_ref().map_err(|e| RenderError::Templates {
        detail: format!("{e:#}"),
    })?;
    let lang = Lang::resolve(&ctx.locale);
    let view = View::new(ctx, lang);
    let value = Value::from(Serde(&view));
    let render = |template: &'static str| {
        env.get_template(template)
            .and_then(|t| t.render(value.clone()))
            .map_err(|source| RenderError::Confirmation {
                template,
                locale: ctx.locale.to_string(),
                source,
            })
    };
    Ok(RenderedDigest {
        html: render(HTML_TEMPLATE)?,
        text: render(TEXT_TEMPLATE)?,
        subject: view.subject,
    })
}

#[derive(Debug, Serialize)]
struct View {
    lang: &'static str,
    subject: String,
    heading: &'static str,
    body: String,
    button: &'static str,
    expiry: String,
    ignore: &'static str,
    stop: &'static str,
    colon: &'static str,
    confirm_url: String,
    unsubscribe_url: String,
}

impl View {
    fn new(ctx: &ConfirmationContext, lang: Lang) -> Self {
        let region = ctx.region_name.trim();
        let hours = ctx.valid_hours;
        let confirm_url = ctx.confirm_url.trim().to_owned();
        let unsubscribe_url = ctx.unsubscribe_url.trim().to_owned();
        match lang {
            Lang::En => Self {
                lang: lang.tag(),
                subject: format!(
                    "Confirm your subscription to the Meridian podcast digest ({region})"
                ),
                heading: "Please confirm your subscription",
                body: format!(
                    "Someone, hopefully you, asked for the daily Meridian podcast digest for {region} \
                     to be sent to this address. Confirm with the button below; until you do, we send \
                     you nothing else."
                ),
                button: "Confirm subscription",
                expiry: format!("The link works for {hours} hours."),
                ignore: "If this was not you, ignore this email: without confirmation you are not subscribed.",
                stop: "Do not email this address again",
                colon: ": ",
                confirm_url,
                unsubscribe_url,
            },
            Lang::Zh => Self {
                lang: lang.tag(),
                subject: format!("请确认订阅 Meridian 每日播客摘要（{region}）"),
                heading: "请确认您的订阅",
                body: format!(
                    "有人（希望是您本人）申请用此邮箱地址订阅 Meridian {region} 区域的每日播客摘要。\
                     请点击下方按钮确认；确认之前，我们不会再向您发送其他邮件。"
                ),
                button: "确认订阅",
                expiry: format!("此链接在 {hours} 小时内有效。"),
                ignore: "如果这不是您本人的操作，请忽略此邮件：未经确认，您不会被订阅。",
                stop: "不要再向此地址发送邮件",
                colon: "：",
                confirm_url,
                unsubscribe_url,
            },
            Lang::De => Self {
                lang: lang.tag(),
                subject: format!(
                    "Bitte bestätigen Sie Ihr Abonnement des Meridian-Podcast-Digests ({region})"
                ),
                heading: "Bitte bestätigen Sie Ihr Abonnement",
                body: format!(
                    "Jemand, hoffentlich Sie, hat den täglichen Podcast-Digest von Meridian für die Region \
                     {region} an diese Adresse bestellt. Bitte bestätigen Sie mit der Schaltfläche unten; \
                     bis dahin senden wir Ihnen nichts weiter."
                ),
                button: "Abonnement bestätigen",
                expiry: format!("Der Link ist {hours} Stunden gültig."),
                ignore: "Falls Sie das nicht waren, ignorieren Sie diese E-Mail: Ohne Bestätigung werden Sie nicht eingetragen.",
                stop: "Diese Adresse nicht mehr anschreiben",
                colon: ": ",
                confirm_url,
                unsubscribe_url,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(locale: &str) -> ConfirmationContext {
        ConfirmationContext {
            locale: Locale::parse(locale).unwrap(),
            region_name: "Europe <EU>".to_owned(),
            confirm_url: "https://eu.example/confirm?token=c.7.1800000000.abc&x=1".to_owned(),
            unsubscribe_url: "https://eu.example/unsubscribe?token=u.7.1800000000.def".to_owned(),
            valid_hours: 72,
        }
    }

    #[test]
    fn every_locale_has_both_links_in_both_parts() {
        for (locale, button) in [
            ("en-US", "Confirm subscription"),
            ("zh-CN", "确认订阅"),
            ("de-DE", "Abonnement bestätigen"),
        ] {
            let mail = render_confirmation(&ctx(locale)).unwrap();
            assert!(mail.html.contains(button), "{locale}: {}", mail.html);
            assert!(
                mail.html.contains(&format!("lang=\"{locale}\"")),
                "{locale}"
            );
            assert!(
                mail.html.contains(
                    "href=\"https://eu.example/confirm?token=c.7.1800000000.abc&amp;x=1\""
                ),
                "{locale}: the link, escaped for the attribute"
            );
            assert!(
                mail.html
                    .contains("https://eu.example/unsubscribe?token=u.7.1800000000.def")
            );
            assert!(
                mail.text
                    .contains("https://eu.example/confirm?token=c.7.1800000000.abc&x=1")
            );
            assert!(
                mail.text
                    .contains("https://eu.example/unsubscribe?token=u.7.1800000000.def")
            );
            assert!(
                mail.text.contains("72"),
                "{locale}: says how long the link works"
            );
        }
    }

    #[test]
    fn the_region_name_is_escaped_in_html_only() {
        let mail = render_confirmation(&ctx("en-US")).unwrap();
        assert!(mail.html.contains("Europe &lt;EU&gt;"));
        assert!(!mail.html.contains("Europe <EU>"));
        assert!(mail.text.contains("Europe <EU>"));
        assert!(mail.subject.contains("Europe <EU>"));
    }

    #[test]
    fn another_locale_falls_back_by_language() {
        let mail = render_confirmation(&ctx("de-AT")).unwrap();
        assert!(mail.subject.starts_with("Bitte bestätigen"));
        let mail = render_confirmation(&ctx("fr-FR")).unwrap();
        assert!(mail.subject.starts_with("Confirm your subscription"));
    }
}
