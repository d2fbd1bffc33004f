//! The registry bench's real behaviour, shown with plain HTTP requests.

use std::time::Duration;

use crate::support::*;

#[tokio::test]
async fn registry_bench_smoke() {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::token("bob", "pw"),
    });
    let fx = reg.seed_fixtures();
    eprintln!("{fx:#?}");
    let client = http_client(Trust::Ca(&reg.pki), Duration::from_secs(10));
    let r = client
        .get(format!("{}/v2/", reg.url()))
        .send()
        .await
        .unwrap();
    eprintln!("{r:?}");
}
