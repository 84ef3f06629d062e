//! Server-rendered pages in the region's locale: plain HTML forms, no
//! JavaScript, one stylesheet. Templates are embedded and auto-escaped; every
//! word the reader sees is chosen here, per language.

use std::sync::LazyLock;

use meridian_core::Locale;
use meridian_runtime::LinkError;
use minijinja::{Environment, UndefinedBehavior, context};

/// The shared stylesheet, served at [`STYLESHEET_PATH`].
pub(crate) const STYLESHEET: &str = include_str!("../assets/meridian.css");
/// Where the stylesheet is served (the CSP allows styles from `'self'` only).
pub(crate) const STYLESHEET_PATH: &str = "/assets/meridian.css";

static TEMPLATES: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template("layout.html", include_str!("../templates/layout.html"))?;
    env.add_template(
        "subscribe.html",
        include_str!("../templates/subscribe.html"),
    )?;
    env.add_template("message.html", include_str!("../templates/message.html"))?;
    env.add_template(
        "unsubscribe.html",
        include_str!("../templates/unsubscribe.html"),
    )?;
    Ok(env)
});

/// The languages the pages are written in; another locale falls back by
/// language, then to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Zh,
    De,
}

impl Lang {
    pub(crate) fn of(locale: &Locale) -> Self {
        match locale.language() {
            "zh" => Self::Zh,
            "de" => Self::De,
            _ => Self::En,
        }
    }

    pub(crate) fn tag(self) -> &'static str {
        match self {
            Self::En => "en-US",
            Self::Zh => "zh-CN",
            Self::De => "de-DE",
        }
    }

    /// A locale's name in its own language, for the language menu.
    pub(crate) fn locale_name(tag: &str) -> &'static str {
        match tag {
            "en-US" => "English",
            "zh-CN" => "简体中文",
            "de-DE" => "Deutsch",
            _ => "",
        }
    }
}

/// What a page shows besides its fixed words.
pub(crate) struct PageContext<'a> {
    pub(crate) lang: Lang,
    pub(crate) region_name: &'a str,
}

/// A rendered page, or the reason it could not be (a template bug: every
/// test that renders a page would catch it).
pub(crate) type Rendered = Result<String, minijinja::Error>;

fn render(template: &str, ctx: minijinja::Value) -> Rendered {
    let env = TEMPLATES.as_ref().map_err(|e| {
        minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("the page templates: {e:#}"),
        )
    })?;
    env.get_template(template)?.render(ctx)
}

/// One option of the language menu.
#[derive(serde::Serialize)]
struct LocaleOption {
    tag: &'static str,
    name: &'static str,
    selected: bool,
}

/// The subscribe form. `error` is shown beside the address field.
pub(crate) fn subscribe(
    page: &PageContext<'_>,
    ai_label: &str,
    locales: &[&'static str],
    selected: &str,
    email: &str,
    error: bool,
    csrf: &str,
) -> Rendered {
    let s = page.lang;
    let (title, intro, email_label, language_label, submit, privacy, invalid) = match s {
        Lang::En => (
            "Subscribe to the daily podcast digest",
            format!(
                "Every morning, the five most useful insights from new podcast episodes, chosen for {}. \
                 We first send you an email to confirm the address; nothing else until you do.",
                page.region_name
            ),
            "Email address",
            "Language of the emails",
            "Subscribe",
            "We use the address only to send this digest. Every email has a one-click unsubscribe link.",
            "Enter an email address such as name@example.com.",
        ),
        Lang::Zh => (
            "订阅每日播客摘要",
            format!(
                "每天早上，为{}精选新播客节目中最有价值的五条洞见。我们会先发送一封确认邮件；在您确认之前，不会发送其他任何邮件。",
                page.region_name
            ),
            "电子邮箱地址",
            "邮件语言",
            "订阅",
            "我们仅使用此地址发送本摘要。每封邮件都附有一键退订链接。",
            "请输入有效的电子邮箱地址，例如 name@example.com。",
        ),
        Lang::De => (
            "Den täglichen Podcast-Digest abonnieren",
            format!(
                "Jeden Morgen die fünf nützlichsten Erkenntnisse aus neuen Podcast-Folgen, ausgewählt für die Region {}. \
                 Zuerst senden wir Ihnen eine E-Mail zur Bestätigung der Adresse; bis dahin nichts weiter.",
                page.region_name
            ),
            "E-Mail-Adresse",
            "Sprache der E-Mails",
            "Abonnieren",
            "Wir verwenden die Adresse nur für diesen Digest. Jede E-Mail enthält einen Link zum Abbestellen mit einem Klick.",
            "Bitte geben Sie eine E-Mail-Adresse wie name@example.com ein.",
        ),
    };
    let options: Vec<LocaleOption> = locales
        .iter()
        .map(|&tag| LocaleOption {
            tag,
            name: Lang::locale_name(tag),
            selected: tag == selected,
        })
        .collect();
    render(
        "subscribe.html",
        context! {
            lang => s.tag(),
            region_name => page.region_name,
            title => title,
            intro => intro,
            ai_label => ai_label,
            email_label => email_label,
            language_label => language_label,
            submit => submit,
            privacy => privacy,
            error => error.then_some(invalid),
            email => email,
            csrf_field => crate::csrf::CSRF_FIELD,
            csrf => csrf,
            locales => minijinja::Value::from(minijinja::value::Serde(&options)),
        },
    )
}

/// The pages that only say something: a title, a paragraph, maybe a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message {
    /// After the subscribe form: the same whatever the address.
    CheckInbox,
    /// The confirm link worked.
    Confirmed,
    /// The confirm link was used before.
    AlreadyConfirmed,
    /// The one-click unsubscribe (or its button) worked.
    Unsubscribed,
    /// A link that does not work, and why.
    BadLink(LinkError),
    /// A form post without a valid CSRF token (an old page, cookies off, or another site).
    FormExpired,
    /// No such page.
    NotFound,
    /// Something broke on our side.
    Internal,
}

/// Renders a [`Message`] page.
pub(crate) fn message(page: &PageContext<'_>, which: Message, valid_hours: u32) -> Rendered {
    let (title, body, subscribe_again) = message_words(page, which, valid_hours);
    render(
        "message.html",
        context! {
            lang => page.lang.tag(),
            region_name => page.region_name,
            title => title,
            body => body,
            subscribe_link => subscribe_again.then_some(match page.lang {
                Lang::En => "Subscribe",
                Lang::Zh => "订阅",
                Lang::De => "Abonnieren",
            }),
        },
    )
}

fn message_words(
    page: &PageContext<'_>,
    which: Message,
    hours: u32,
) -> (&'static str, String, bool) {
    let region = page.region_name;
    match (page.lang, which) {
        (Lang::En, Message::CheckInbox) => (
            "Check your inbox",
            format!(
                "If the address can receive email, a confirmation email is on its way. Open the link in it within \
                 {hours} hours to start receiving the digest."
            ),
            false,
        ),
        (Lang::Zh, Message::CheckInbox) => (
            "请查收邮件",
            format!("如果该地址可以接收邮件，确认邮件正在发送中。请在 {hours} 小时内打开邮件中的链接，即可开始接收摘要。"),
            false,
        ),
        (Lang::De, Message::CheckInbox) => (
            "Bitte prüfen Sie Ihr Postfach",
            format!(
                "Wenn die Adresse E-Mails empfangen kann, ist eine Bestätigungs-E-Mail unterwegs. Öffnen Sie den Link \
                 darin innerhalb von {hours} Stunden, um den Digest zu erhalten."
            ),
            false,
        ),
        (Lang::En, Message::Confirmed) => (
            "Subscription confirmed",
            format!("You will receive the podcast digest for {region} every morning. Every email has a link to unsubscribe."),
            false,
        ),
        (Lang::Zh, Message::Confirmed) => (
            "订阅已确认",
            format!("您将在每天早上收到{region}的播客摘要。每封邮件都附有退订链接。"),
            false,
        ),
        (Lang::De, Message::Confirmed) => (
            "Abonnement bestätigt",
            format!("Sie erhalten den Podcast-Digest für die Region {region} jeden Morgen. Jede E-Mail enthält einen Link zum Abbestellen."),
            false,
        ),
        (Lang::En, Message::AlreadyConfirmed) => {
            ("Subscription confirmed", "This subscription was already confirmed. There is nothing else to do.".to_owned(), false)
        }
        (Lang::Zh, Message::AlreadyConfirmed) => ("订阅已确认", "此订阅此前已经确认，无需其他操作。".to_owned(), false),
        (Lang::De, Message::AlreadyConfirmed) => {
            ("Abonnement bestätigt", "Dieses Abonnement war bereits bestätigt. Es ist nichts weiter zu tun.".to_owned(), false)
        }
        (Lang::En, Message::Unsubscribed) => (
            "You are unsubscribed",
            "This address will get no more emails from us. Changed your mind? You can subscribe again.".to_owned(),
            true,
        ),
        (Lang::Zh, Message::Unsubscribed) => ("您已退订", "我们不会再向此地址发送任何邮件。改变主意了？您可以重新订阅。".to_owned(), true),
        (Lang::De, Message::Unsubscribed) => (
            "Sie sind abgemeldet",
            "Diese Adresse erhält keine E-Mails mehr von uns. Anders überlegt? Sie können den Digest erneut abonnieren.".to_owned(),
            true,
        ),
        (lang, Message::BadLink(error)) => bad_link_words(lang, error),
        (Lang::En, Message::FormExpired) => (
            "Please send the form again",
            "This form has expired or was not sent from our subscribe page. Open the subscribe page again and \
             send it from there (cookies must be allowed for this site)."
                .to_owned(),
            true,
        ),
        (Lang::Zh, Message::FormExpired) => (
            "请重新提交表单",
            "此表单已过期，或并非从我们的订阅页面提交。请重新打开订阅页面并从那里提交（需要允许本站的 Cookie）。".to_owned(),
            true,
        ),
        (Lang::De, Message::FormExpired) => (
            "Bitte senden Sie das Formular erneut",
            "Dieses Formular ist abgelaufen oder wurde nicht von unserer Anmeldeseite gesendet. Öffnen Sie die \
             Anmeldeseite erneut und senden Sie es von dort (Cookies müssen für diese Website erlaubt sein)."
                .to_owned(),
            true,
        ),
        (Lang::En, Message::NotFound) => ("Page not found", "There is no page at this address.".to_owned(), true),
        (Lang::Zh, Message::NotFound) => ("页面不存在", "此地址没有页面。".to_owned(), true),
        (Lang::De, Message::NotFound) => ("Seite nicht gefunden", "Unter dieser Adresse gibt es keine Seite.".to_owned(), true),
        (Lang::En, Message::Internal) => {
            ("Something went wrong", "This is our fault, not yours. Please try again in a few minutes.".to_owned(), false)
        }
        (Lang::Zh, Message::Internal) => ("出错了", "这是我们的问题，不是您的。请几分钟后重试。".to_owned(), false),
        (Lang::De, Message::Internal) => (
            "Etwas ist schiefgelaufen",
            "Das liegt an uns, nicht an Ihnen. Bitte versuchen Sie es in ein paar Minuten noch einmal.".to_owned(),
            false,
        ),
    }
}

fn bad_link_words(lang: Lang, error: LinkError) -> (&'static str, String, bool) {
    let title = match lang {
        Lang::En => "This link does not work",
        Lang::Zh => "此链接无效",
        Lang::De => "Dieser Link funktioniert nicht",
    };
    let body = match (lang, error) {
        (Lang::En, LinkError::Malformed) => {
            "The link is incomplete. Open it from the email again, or copy the whole address into the browser."
        }
        (Lang::En, LinkError::Expired) => {
            "The link has expired. Subscribe again to get a new one, or use the link in a more recent email."
        }
        (Lang::En, LinkError::Invalid) => {
            "The link is not valid. Use the link exactly as it is in the email."
        }
        (Lang::En, LinkError::Superseded) => {
            "The link was sent before this address unsubscribed, so it no longer applies. Subscribe again if you want the digest."
        }
        (Lang::Zh, LinkError::Malformed) => {
            "链接不完整。请从邮件中重新打开，或将完整地址复制到浏览器中。"
        }
        (Lang::Zh, LinkError::Expired) => {
            "链接已过期。请重新订阅以获取新链接，或使用较新邮件中的链接。"
        }
        (Lang::Zh, LinkError::Invalid) => "链接无效。请使用邮件中的原始链接。",
        (Lang::Zh, LinkError::Superseded) => {
            "此链接发送于该地址退订之前，已不再适用。如需接收摘要，请重新订阅。"
        }
        (Lang::De, LinkError::Malformed) => {
            "Der Link ist unvollständig. Öffnen Sie ihn erneut aus der E-Mail oder kopieren Sie die ganze Adresse in den Browser."
        }
        (Lang::De, LinkError::Expired) => {
            "Der Link ist abgelaufen. Abonnieren Sie erneut, um einen neuen zu erhalten, oder nutzen Sie den Link einer neueren E-Mail."
        }
        (Lang::De, LinkError::Invalid) => {
            "Der Link ist ungültig. Verwenden Sie ihn genau so, wie er in der E-Mail steht."
        }
        (Lang::De, LinkError::Superseded) => {
            "Der Link wurde verschickt, bevor diese Adresse abbestellt wurde, und gilt nicht mehr. Abonnieren Sie erneut, wenn Sie den Digest möchten."
        }
    };
    (title, body.to_owned(), true)
}

/// The unsubscribe page: one button that posts the one-click form to the
/// same link, so a link scanner that only follows `GET`s unsubscribes nobody.
pub(crate) fn unsubscribe(page: &PageContext<'_>, action: &str) -> Rendered {
    let (title, body, button) = match page.lang {
        Lang::En => (
            "Unsubscribe",
            "Stop all emails from this digest to your address?",
            "Unsubscribe",
        ),
        Lang::Zh => ("退订", "停止向您的地址发送本摘要的所有邮件？", "退订"),
        Lang::De => (
            "Abbestellen",
            "Keine E-Mails dieses Digests mehr an Ihre Adresse senden?",
            "Abbestellen",
        ),
    };
    render(
        "unsubscribe.html",
        context! {
            lang => page.lang.tag(),
            region_name => page.region_name,
            title => title,
            body => body,
            button => button,
            action => minijinja::Value::from_safe_string(attribute(action)),
        },
    )
}

/// Escapes a URL for a quoted attribute, leaving `/` readable (minijinja's
/// HTML escape writes it as `&#x2f;`).
fn attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(lang: Lang) -> PageContext<'static> {
        PageContext {
            lang,
            region_name: "Test <Region>",
        }
    }

    #[test]
    fn every_page_renders_in_every_language_escaped() {
        for lang in [Lang::En, Lang::Zh, Lang::De] {
            let p = page(lang);
            let mut pages = vec![
                subscribe(
                    &p,
                    "AI <label>",
                    &["en-US", "zh-CN", "de-DE"],
                    "en-US",
                    "a\"b@example.com",
                    true,
                    "1.ab.cd",
                )
                .unwrap(),
                unsubscribe(&p, "/unsubscribe?token=u.1.2.x").unwrap(),
            ];
            for m in [
                Message::CheckInbox,
                Message::Confirmed,
                Message::AlreadyConfirmed,
                Message::Unsubscribed,
                Message::BadLink(LinkError::Expired),
                Message::FormExpired,
                Message::NotFound,
                Message::Internal,
            ] {
                pages.push(message(&p, m, 72).unwrap());
            }
            for html in &pages {
                assert!(
                    html.contains(&format!("<html lang=\"{}\">", lang.tag())),
                    "{html}"
                );
                assert!(
                    !html.contains("<Region>") && !html.contains("<label>"),
                    "escaped: {html}"
                );
                assert!(!html.contains("<script"), "no JavaScript: {html}");
            }
        }
    }

    #[test]
    fn a_bad_address_is_marked_for_assistive_technology() {
        let html = subscribe(
            &page(Lang::En),
            "AI",
            &["en-US"],
            "en-US",
            "nope",
            true,
            "t",
        )
        .unwrap();
        assert!(html.contains("aria-invalid=\"true\""), "{html}");
        assert!(html.contains("aria-describedby=\"email-error\""), "{html}");
        assert!(html.contains("id=\"email-error\""), "{html}");
        assert!(html.contains("value=\"nope\""), "the input is kept: {html}");
        let fine = subscribe(&page(Lang::En), "AI", &["en-US"], "en-US", "", false, "t").unwrap();
        assert!(!fine.contains("aria-invalid"), "{fine}");
        assert!(
            fine.contains("<input type=\"hidden\" name=\"csrf\" value=\"t\">"),
            "the CSRF field: {fine}"
        );
    }
}
