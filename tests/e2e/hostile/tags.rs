//! A registry whose tag list runs to tens of megabytes across `Link` pages: the probe digests
//! each page and keeps the few tags nearest the wanted one, never the whole list.
//!
//! A scan over many such repositories digests each probe's pages the same way, so its peak does
//! not grow with the number of repositories.
//!
//! Paging is the distribution spec's (`Link: <…>; rel="next"`,
//! <https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags>).

use std::sync::Arc;

use super::*;

/// Tags per page: about 0.7 MB of JSON (the probe reads pages of up to 4 MiB).
const PER_PAGE: usize = 60_000;
const PAGES: usize = 5;

/// Page `p` of the list: `bp-NNNNNN` tags; the last page also holds the near misses.
fn page(p: usize) -> Vec<u8> {
    page_of(p, PER_PAGE)
}

/// Page `p` of `per_page` tags `bp-NNNNNN`, then the near misses on the last page.
fn page_of(p: usize, per_page: usize) -> Vec<u8> {
    let mut tags: Vec<String> = (0..per_page).map(|i| format!("\"b{p}-{i:06}\"")).collect();
    if p == PAGES - 1 {
        tags.extend(["\"1.0.1\"".to_string(), "\"1.1\"".to_string()]);
    }
    format!("{{\"name\":\"app\",\"tags\":[{}]}}", tags.join(",")).into_bytes()
}

/// A registry whose every repository `R` pages the same tag list at `/v2/R/tags/list?page=N`
/// (`Link` to N+1 until the last) and has no manifest; behind Basic auth when `gated`.
fn paging_registry(pages: Arc<Vec<Vec<u8>>>, gated: bool) -> Hostile {
    Hostile::start(TlsMode::Plain, move |req| {
        if gated && let Some(a) = basic_gate(req) {
            return a;
        }
        let path = req.path.as_str();
        if path == "/v2/" {
            return Action::reply(200, &[], "{}");
        }
        if let Some((repo, q)) = path
            .strip_prefix("/v2/")
            .and_then(|p| p.split_once("/tags/list"))
        {
            let n: usize = q
                .strip_prefix("?page=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let next = format!("</v2/{repo}/tags/list?page={}>; rel=\"next\"", n + 1);
            let mut headers = vec![("Content-Type", "application/json")];
            if n + 1 < PAGES {
                headers.push(("Link", next.as_str()));
            }
            return Action::reply(200, &headers, &pages[n.min(PAGES - 1)]);
        }
        Action::reply(
            404,
            &[("Content-Type", "application/json")],
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        )
    })
}

#[test]
fn hostile_megabytes_of_tags_across_link_pages() {
    let pages: Arc<Vec<Vec<u8>>> = Arc::new((0..PAGES).map(page).collect());
    let total: usize = pages.iter().map(Vec::len).sum();
    let h = paging_registry(pages, true);
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

/// Repositories the scan covers: the issue's "16 such repositories".
const REPOS: usize = 16;
/// Tags per page in the scan: 60,000 tags per repository, a million in all, so that every
/// page is read within the step timeout of a debug build on a busy machine.
const SCAN_PER_PAGE: usize = 12_000;

/// A kubectl JSON `List` of one pod per repository, each waiting on `HOST/team-i/app:1.0`,
/// with the kubelet event that says the tag was not found.
fn scan_snapshot(host: &str, repos: usize) -> String {
    let mut items = Vec::new();
    for i in 0..repos {
        let image = format!("{host}/team-{i}/app:1.0");
        let name = format!("web-{i}");
        items.push(serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{i}")},
            "spec": {"containers": [{"name": "app", "image": image}]},
            "status": {"phase": "Pending", "containerStatuses": [{
                "name": "app", "image": image, "imageID": "", "ready": false,
                "restartCount": 0,
                "state": {"waiting": {"reason": "ImagePullBackOff",
                    "message": format!("Back-off pulling image \"{image}\"")}}}]}
        }));
        items.push(serde_json::json!({
            "apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "Failed",
            "metadata": {"name": format!("{name}.1"), "namespace": "shop"},
            "involvedObject": {"kind": "Pod", "name": name, "namespace": "shop",
                "uid": format!("uid-{i}")},
            "message": format!("Failed to pull image \"{image}\": failed to resolve reference \"{image}\": {image}: not found")
        }));
    }
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string()
}

/// `scan -A --snapshot` over `repos` repositories of `h`, plain HTTP to it.
fn scan_repos(h: &Hostile, repos: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.json");
    std::fs::write(&file, scan_snapshot(&h.host(), repos)).unwrap();
    let args: Vec<String> = [
        "scan",
        "-A",
        "--snapshot",
        file.to_str().unwrap(),
        "--plain-http",
        &h.host(),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    // Sixteen repositories of megabyte tag lists on a shared machine: a page may take longer
    // than the suite's 3 s deadline under load, and this test is about memory, not deadlines.
    run_args_within(marker("scan-tags"), &args, SCAN_TIMEOUT)
}

/// `--timeout` of the tag scans (the hang guard below is four times it).
const SCAN_TIMEOUT: u64 = 20;

#[test]
fn hostile_scan_over_sixteen_repositories_of_huge_tag_lists() {
    let pages: Arc<Vec<Vec<u8>>> =
        Arc::new((0..PAGES).map(|p| page_of(p, SCAN_PER_PAGE)).collect());
    let per_repo: usize = pages.iter().map(Vec::len).sum();
    let one = paging_registry(pages.clone(), false);
    let r1 = scan_repos(&one, 1);
    let h = paging_registry(pages, false);
    let r = scan_repos(&h, REPOS);
    println!(
        "scan, {:.1} MB of tags per repository: 1 repository peak RSS {} KiB ({:.1} MiB) in {:?}; \
         {REPOS} repositories ({:.1} MB of tags) peak RSS {} KiB ({:.1} MiB) in {:?}",
        per_repo as f64 / 1e6,
        r1.peak_kib,
        r1.peak_kib as f64 / 1024.0,
        r1.wall,
        (REPOS * per_repo) as f64 / 1e6,
        r.peak_kib,
        r.peak_kib as f64 / 1024.0,
        r.wall
    );
    for run in [&r1, &r] {
        assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
        assert!(
            run.wall < Duration::from_secs(4 * SCAN_TIMEOUT),
            "took {:?}",
            run.wall
        );
        assert!(run.peak_kib > 0, "VmHWM was never read");
    }
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let failing = report["failing_pods"].as_array().unwrap();
    assert_eq!(failing.len(), REPOS, "{}", r.stdout);
    // Every repository's whole list was read, counted and digested to its near misses.
    for repo in 0..REPOS {
        let listed = h
            .seen()
            .iter()
            .filter(|s| {
                s.path
                    .starts_with(&format!("/v2/team-{repo}/app/tags/list"))
            })
            .count();
        assert_eq!(listed, PAGES, "team-{repo}: {listed} tag pages read");
    }
    for pod in failing {
        let v = &pod["verdicts"][0];
        assert_eq!(v["cause"], "not_found_tag", "{v}");
        let evidence = v["evidence"].to_string();
        assert!(
            evidence.contains(&format!("{} tags", PAGES * SCAN_PER_PAGE + 2)),
            "{evidence}"
        );
        let fixes = v["fixes"].to_string();
        assert!(fixes.contains("1.0.1") && fixes.contains("1.1"), "{fixes}");
    }
    // Eight probes in flight, one page each: the peak is the binary plus a few pages, whatever
    // the number of repositories (a million tags held as strings would add over 40 MiB).
    assert!(r.peak_kib < 64 * 1024, "peak RSS {} KiB", r.peak_kib);
    assert!(
        r.peak_kib < r1.peak_kib + 24 * 1024,
        "{} KiB for {REPOS} repositories, {} KiB for one",
        r.peak_kib,
        r1.peak_kib
    );
}
