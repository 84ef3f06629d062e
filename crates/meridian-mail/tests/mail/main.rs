//! Sends real emails through the `Mailer`: to an outbox folder, and over SMTP
//! to a minimal SMTP server on loopback.
#![expect(clippy::unwrap_used, reason = "test helpers fail loudly")]

mod outbox;
mod smtp;

use meridian_core::{ContentHash, SubscriberEmail};
use meridian_mail::{ListUnsubscribe, OutgoingEmail, message_id};

/// A digest-like email with a Chinese subject and non-ASCII bodies.
pub fn sample_email() -> OutgoingEmail {
    OutgoingEmail {
        from: "Meridian <digest@cn.example.com>".to_owned(),
        reply_to: None,
        to: SubscriberEmail::parse("li.lei@example.cn").unwrap(),
        subject: "今日播客五大洞见 — 2026年11月27日 星期五".to_owned(),
        html: "<!DOCTYPE html><html lang=\"zh-CN\"><body><p>本内容由人工智能生成</p><ol><li>洞见一</li></ol></body></html>".to_owned(),
        text: "本内容由人工智能生成\n\n1. 洞见一\n".to_owned(),
        message_id: message_id("digest-2026-11-27", &ContentHash::of("digest:cn:2026-11-27|li.lei"), "meridian.cn"),
        headers: vec![("X-AI-Generated".to_owned(), "true".to_owned())],
        list_unsubscribe: Some(ListUnsubscribe { https: "https://cn.example/u/tok".to_owned(), mailto: None }),
    }
}
