//! A registry whose tag list runs to tens of megabytes across `Link` pages: the probe digests
//! each page and keeps the few tags nearest the wanted one, never the whole list.
//!
//! Paging is the distribution spec's (`Link: <…>; rel="next"`,
//! <https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags>).

use std::sync::Arc;

use super::*;

/// Tags per page: about 0.7 MB of JSON (the probe reads pages of up to 4 MiB).
const PER_PAGE: usize = 60_000;
const PAGES: usize = 5;

/// Page `p` of the list: `build-p-NNNNNN` tags; the last page also holds the near misses.
fn page(p: usize) -> Vec<u8> {
    let mut tags: Vec<String> = (0..PER_PAGE).map(|i| format!("\"b{p}-{i:06}\"")).collect();
    if p == PAGES - 1 {
        tags.extend(["\"1.0.1\"".to_string(), "\"1.1\"".to_string()]);
    }
    format!("{{\"name\":\"app\",\"tags\":[{}]}}", tags.join(",")).into_bytes()
}

#[test]
fn hostile_megabytes_of_tags_across_link_pages() {
    let pages: Arc<Vec<Vec<u8>>> = Arc::new((0..PAGES).map(page).collect());
    let total: usize = pages.iter().map(Vec::len).sum();
    let served = pages.clone();
    // The tags endpoint pages: `?page=N` → page N, with a `Link` to N+1 until the last.
    let h = Hostile::start(TlsMode::Plain, move |req| {
        if let Some(a) = basic_gate(req) {
            return a;
        }
        let path = req.path.as_str();
        if path == "/v2/" {
            return Action::reply(200, &[], "{}");
        }
        if let Some(q) = path.strip_prefix("/v2/app/tags/list") {
            let n: usize = q
                .strip_prefix("?page=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let next = format!("</v2/app/tags/list?page={}>; rel=\"next\"", n + 1);
            let mut headers = vec![("Content-Type", "application/json")];
            if n + 1 < PAGES {
                headers.push(("Link", next.as_str()));
            }
            return Action::reply(200, &headers, &served[n.min(PAGES - 1)]);
        }
        Action::reply(
            404,
            &[("Content-Type", "application/json")],
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        )
    });
    let r = plain(&h, "tags");
    println!(
        "{:.1} MB of tags over {PAGES} pages: peak RSS {} KiB ({:.1} MiB), wall {:?}",
        total as f64 / 1e6,
        r.peak_kib,
        r.peak_kib as f64 / 1024.0,
        r.wall
    );
    r.assert_diagnosed(&["not_found_tag"]);
    let pages_read = h
        .seen()
        .iter()
        .filter(|s| s.path.starts_with("/v2/app/tags/list"))
        .count();
    assert!(pages_read >= PAGES, "{pages_read} tag pages read");
    // The count is of every tag; the fix names the near misses from the last page.
    let evidence = r.evidence();
    assert!(
        evidence.contains(&format!("{} tags", PAGES * PER_PAGE + 2)),
        "{evidence}"
    );
    let fixes = r.verdict()["fixes"].to_string();
    assert!(fixes.contains("1.0.1") && fixes.contains("1.1"), "{fixes}");
    assert!(r.peak_kib > 0, "VmHWM was never read");
    // One page in flight and ten tags kept (about 30 MiB in all); holding the whole list took
    // 70 MiB here, and 489 MiB for 20 MB of tags.
    assert!(r.peak_kib < 48 * 1024, "peak RSS {} KiB", r.peak_kib);
}
