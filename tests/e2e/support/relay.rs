//! A TCP relay in front of a bench server: counts connections and TLS handshakes, and can add
//! latency.
//!
//! It stands where the network stands between a node and its registry: it forwards bytes
//! unchanged (TLS ends at the real registry, so ALPN and HTTP/2 stay the server's choice), and
//! counts each accepted connection and each one whose first byte opens a TLS handshake record
//! (content type 22, RFC 8446 §5.1). With a delay, every chunk is held that long in its
//! direction before it is written, order kept, so a request and its answer cost one round trip
//! of twice the delay, as a registry that far away would. Requests themselves are counted from
//! the registry's access log ([`access_log`]), which sees them whatever the protocol.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A running relay; stops (closing every connection) when dropped.
pub struct Relay {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
    runtime: Option<Runtime>,
}

impl Relay {
    /// Relays 127.0.0.1:0 to `target` (`127.0.0.1:PORT`), adding `delay` each way.
    pub fn start(target: &str, delay: Duration) -> Relay {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("relay runtime");
        let target: SocketAddr = target.parse().expect("relay target is 127.0.0.1:PORT");
        assert!(
            target.ip().is_loopback(),
            "the relay forwards to loopback only"
        );
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay address");
        let connections = Arc::new(AtomicUsize::new(0));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let (c, h) = (connections.clone(), handshakes.clone());
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let h = h.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let up = pump(cr, sw, delay, Some(h));
                    let down = pump(sr, cw, delay, None);
                    let _ = tokio::join!(up, down);
                });
            }
        });
        Relay {
            addr,
            connections,
            handshakes,
            runtime: Some(runtime),
        }
    }

    /// `127.0.0.1:PORT`: use it where the server's host would go.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Connections that opened with a TLS handshake record.
    pub fn tls_handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Copies `from` to `to`, each chunk held `delay` after it was read; counts a TLS opening.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    handshakes: Option<Arc<AtomicUsize>>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let writer = tokio::spawn(async move {
        let mut queue: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
        while let Some(item) = match queue.pop_front() {
            Some(i) => Some(i),
            None => rx.recv().await,
        } {
            // No added latency means none: even an elapsed timer waits for the next millisecond
            // tick, a round trip's worth of delay the network does not have.
            if !delay.is_zero() {
                tokio::time::sleep_until(item.0).await;
            }
            if to.write_all(&item.1).await.is_err() {
                break;
            }
            while let Ok(next) = rx.try_recv() {
                queue.push_back(next);
            }
        }
        let _ = to.shutdown().await;
    });
    let mut first = true;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if first {
            first = false;
            if buf[0] == 22
                && let Some(h) = &handshakes
            {
                h.fetch_add(1, Ordering::SeqCst);
            }
        }
        if tx
            .send((Instant::now() + delay, buf[..n].to_vec()))
            .is_err()
        {
            break;
        }
    }
    drop(tx);
    let _ = writer.await;
}

/// One request in a docker-registry access log line (Apache combined format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    pub path: String,
    /// `HTTP/1.1` or `HTTP/2.0`.
    pub protocol: String,
    pub status: u16,
}

/// The requests in a registry's log, in order: the access log's `"METHOD PATH PROTO" STATUS`.
pub fn access_log(lines: &[String]) -> Vec<Logged> {
    lines
        .iter()
        .filter_map(|line| {
            let open = line.find('"')?;
            let rest = &line[open + 1..];
            let close = rest.find('"')?;
            let mut request = rest[..close].split(' ');
            let method = request.next()?.to_string();
            let path = request.next()?.to_string();
            let protocol = request.next()?.to_string();
            if !protocol.starts_with("HTTP/") {
                return None;
            }
            let status = rest[close + 1..].split_whitespace().next()?.parse().ok()?;
            Some(Logged {
                method,
                path,
                protocol,
                status,
            })
        })
        .collect()
}
