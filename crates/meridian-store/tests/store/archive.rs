//! The digest archive's listing: newest day first, paged, counted.

use chrono::NaiveDate;
use meridian_core::{Digest, RegionId};

use crate::store_test;

fn digest(date: NaiveDate) -> Digest {
    Digest {
        region: RegionId::parse("eu").unwrap(),
        date,
        items: vec![],
        short_of_strong_insights: false,
    }
}

store_test!(the_archive_lists_digests_newest_day_first_in_pages, |db| {
    let s = db.open("eu").await.unwrap();
    let empty = s.digest_page(0, 10).await.unwrap();
    assert_eq!((empty.digests.len(), empty.total), (0, 0));

    // Stored out of order, across a month and a year boundary: the order is
    // by day, not by insertion.
    let days = [
        (2026, 12, 1),
        (2025, 12, 31),
        (2026, 11, 30),
        (2026, 1, 2),
        (2026, 11, 9),
    ];
    for (i, (y, m, d)) in days.into_iter().enumerate() {
        let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        s.create_digest(&digest(date), &[], 100 + i64::try_from(i).unwrap())
            .await
            .unwrap();
    }
    let dates = |page: &meridian_store::DigestPage| {
        page.digests
            .iter()
            .map(|d| d.digest.date.to_string())
            .collect::<Vec<_>>()
    };
    let first = s.digest_page(0, 2).await.unwrap();
    assert_eq!(first.total, 5);
    assert_eq!(dates(&first), ["2026-12-01", "2026-11-30"]);
    let second = s.digest_page(2, 2).await.unwrap();
    assert_eq!(dates(&second), ["2026-11-09", "2026-01-02"]);
    let last = s.digest_page(4, 2).await.unwrap();
    assert_eq!(dates(&last), ["2025-12-31"]);
    let past_the_end = s.digest_page(10, 2).await.unwrap();
    assert_eq!((past_the_end.digests.len(), past_the_end.total), (0, 5));
    let nonsense = s.digest_page(-3, -1).await.unwrap();
    assert!(
        nonsense.digests.is_empty(),
        "a negative limit lists nothing"
    );
    assert_eq!(
        first.digests[0].id,
        s.digest_for_date(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
            .await
            .unwrap()
            .unwrap()
            .id,
        "the same rows as by date"
    );
    s.close().await;
});
