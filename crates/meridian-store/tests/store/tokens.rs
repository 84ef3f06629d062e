//! API tokens: stored by hash, listed, revoked, touched; and the totals the
//! metrics endpoint reads.

use meridian_store::{ServiceTotals, TokenScope};

use crate::store_test;

store_test!(api_tokens_are_found_by_hash_and_revoked_once, |db| {
    let s = db.open("us").await.unwrap();
    let admin = s
        .create_api_token("ops", TokenScope::Admin, "sha256:aa", 100)
        .await
        .unwrap();
    let read = s
        .create_api_token("grafana", TokenScope::Read, "sha256:bb", 101)
        .await
        .unwrap();
    assert_eq!(
        (admin.name.as_str(), admin.scope, admin.created_at),
        ("ops", TokenScope::Admin, 100)
    );
    assert_eq!((admin.last_used_at, admin.revoked_at), (None, None));
    assert!(
        s.create_api_token("dup", TokenScope::Read, "sha256:aa", 102)
            .await
            .is_err(),
        "a hash is stored once"
    );

    let found = s.api_token_by_hash("sha256:bb").await.unwrap().unwrap();
    assert_eq!(found, read);
    assert!(s.api_token_by_hash("sha256:cc").await.unwrap().is_none());

    s.touch_api_token(read.id, 150).await.unwrap();
    assert!(s.revoke_api_token(admin.id, 200).await.unwrap());
    assert!(
        !s.revoke_api_token(admin.id, 300).await.unwrap(),
        "already revoked"
    );
    assert!(
        !s.revoke_api_token(9999, 300).await.unwrap(),
        "no such token"
    );

    let all = s.list_api_tokens().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].revoked_at,
        Some(200),
        "the first revocation time is kept"
    );
    assert_eq!(all[1].last_used_at, Some(150));
    assert_eq!(TokenScope::parse("read"), Some(TokenScope::Read));
    assert_eq!(TokenScope::parse("root"), None);
});

store_test!(a_fresh_store_has_current_migrations_and_zero_totals, |db| {
    let s = db.open("eu").await.unwrap();
    assert!(s.migrations_current().await.unwrap());
    let totals = s.service_totals().await.unwrap();
    assert_eq!(totals, ServiceTotals::default());
});
