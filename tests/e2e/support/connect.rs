//! A forward proxy that speaks HTTP `CONNECT`, as squid or a corporate proxy does for a node's
//! runtime (RFC 9110 §9.3.6): it reads `CONNECT host:port`, answers `200 Connection
//! established`, and relays bytes both ways, so TLS runs end to end between the node and the
//! registry. It resolves names from its own table only (a name it does not know gets `502`,
//! never a DNS query), which lets a test give the registry a name that only the proxy can
//! reach. It counts every `CONNECT` and can refuse them all (`403`), like a proxy whose ACL
//! does not allow the registry.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// A running proxy; stops (closing every tunnel) when dropped.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    connects: Arc<AtomicUsize>,
    targets: Arc<Mutex<Vec<String>>>,
    refuse: Arc<AtomicBool>,
    runtime: Option<Runtime>,
}

impl ConnectProxy {
    /// Listens on 127.0.0.1:0; `routes` maps `name:port` to the loopback address it reaches.
    pub fn start(routes: &[(&str, &str)]) -> ConnectProxy {
        let routes: Vec<(String, SocketAddr)> = routes
            .iter()
            .map(|(name, to)| {
                let to: SocketAddr = to.parse().expect("route target is 127.0.0.1:PORT");
                assert!(to.ip().is_loopback(), "the proxy forwards to loopback only");
                (name.to_ascii_lowercase(), to)
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let connects = Arc::new(AtomicUsize::new(0));
        let targets = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(AtomicBool::new(false));
        let (c, t, r) = (connects.clone(), targets.clone(), refuse.clone());
        let routes = Arc::new(routes);
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (c, t, r, routes) = (c.clone(), t.clone(), r.clone(), routes.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &routes, &c, &t, &r).await;
                });
            }
        });
        ConnectProxy {
            addr,
            connects,
            targets,
            refuse,
            runtime: Some(runtime),
        }
    }

    /// `http://127.0.0.1:PORT`, as a node's `HTTPS_PROXY` names it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `CONNECT` requests received so far (refused ones too).
    pub fn connects(&self) -> usize {
        self.connects.load(Ordering::SeqCst)
    }

    /// The `host:port` of every `CONNECT`, in order, with ` as user:password` when it carried
    /// `Proxy-Authorization: Basic`.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }

    /// From now on, answer every `CONNECT` with `403 Forbidden`.
    pub fn refuse_all(&self) {
        self.refuse.store(true, Ordering::SeqCst);
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn serve(
    mut client: TcpStream,
    routes: &[(String, SocketAddr)],
    connects: &AtomicUsize,
    targets: &Mutex<Vec<String>>,
    refuse: &AtomicBool,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).await? == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    // Which credentials came along (decoded `user:password`), never printed by the proxy.
    let auth = text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        let v = v.trim().strip_prefix("Basic ")?;
        k.eq_ignore_ascii_case("proxy-authorization").then(|| {
            use base64::Engine;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v)
                .unwrap_or_default();
            String::from_utf8_lossy(&raw).into_owned()
        })
    });
    if method != "CONNECT" {
        client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    connects.fetch_add(1, Ordering::SeqCst);
    targets.lock().unwrap().push(match auth {
        Some(a) => format!("{target} as {a}"),
        None => target.to_string(),
    });
    if refuse.load(Ordering::SeqCst) {
        client
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    let to = target.to_ascii_lowercase();
    let Some((_, addr)) = routes.iter().find(|(name, _)| *name == to) else {
        client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    let Ok(mut server) = TcpStream::connect(addr).await else {
        client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
