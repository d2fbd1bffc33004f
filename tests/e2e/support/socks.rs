//! A SOCKS5 server, as a node's `HTTPS_PROXY=socks5://…` names one (RFC 1928, with RFC 1929
//! username/password): it offers "no authentication" or "username/password" (whichever the test
//! asks for), takes `CONNECT` with an IPv4, IPv6 or domain-name address, answers with a reply
//! code and relays bytes both ways, so TLS runs end to end between the node and the registry.
//! It listens on 127.0.0.1 only and forwards to loopback only. A domain name is looked up in
//! the test's table and must be a reserved `.test` name: never a DNS query. It counts
//! connections and `CONNECT` requests, records each target, and can be told to refuse every
//! `CONNECT` with a given reply code (0x02: "connection not allowed by ruleset").

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// What the server shares with its connections.
struct State {
    routes: Vec<(String, SocketAddr)>,
    /// `Some((user, password))`: only the username/password method is offered.
    login: Option<(String, String)>,
    connections: AtomicUsize,
    targets: Mutex<Vec<String>>,
    /// 0: grant; otherwise the reply code every `CONNECT` gets.
    refuse: AtomicU8,
}

/// A running SOCKS5 server; stops (closing every relay) when dropped.
pub struct SocksProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<Runtime>,
}

impl SocksProxy {
    /// No authentication; `routes` maps `name.test:port` to the loopback address it reaches.
    pub fn start(routes: &[(&str, &str)]) -> SocksProxy {
        SocksProxy::with_login(routes, None)
    }

    /// Username/password authentication (RFC 1929) with these credentials, or none.
    pub fn with_login(routes: &[(&str, &str)], login: Option<(&str, &str)>) -> SocksProxy {
        let routes = routes
            .iter()
            .map(|(name, to)| {
                let to: SocketAddr = to.parse().expect("route target is 127.0.0.1:PORT");
                assert!(to.ip().is_loopback(), "the proxy forwards to loopback only");
                let host = name.rsplit_once(':').map_or(*name, |(h, _)| h);
                assert!(
                    host.ends_with(".test"),
                    "route names are reserved .test names"
                );
                (name.to_ascii_lowercase(), to)
            })
            .collect();
        let state = Arc::new(State {
            routes,
            login: login.map(|(u, p)| (u.to_string(), p.to_string())),
            connections: AtomicUsize::new(0),
            targets: Mutex::new(Vec::new()),
            refuse: AtomicU8::new(0),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("socks runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind socks");
        let addr = listener.local_addr().expect("socks address");
        let s = state.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::SeqCst);
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = serve(client, &s).await;
                });
            }
        });
        SocksProxy {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    /// `socks5://127.0.0.1:PORT` (`scheme` may be `socks5h`), credentials included when given.
    pub fn url(&self, scheme: &str, login: Option<(&str, &str)>) -> String {
        match login {
            Some((u, p)) => format!("{scheme}://{u}:{p}@{}", self.addr),
            None => format!("{scheme}://{}", self.addr),
        }
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Every `CONNECT` target as `host:port` (a domain as sent, an IP as `ip:port`), in order,
    /// with ` as user:password` when the username/password method was used.
    pub fn targets(&self) -> Vec<String> {
        self.state.targets.lock().unwrap().clone()
    }

    /// From now on, answer every `CONNECT` with reply code `code`.
    pub fn refuse_all(&self, code: u8) {
        self.state.refuse.store(code, Ordering::SeqCst);
    }
}

impl Drop for SocksProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A reply with a zero IPv4 bound address.
fn reply(code: u8) -> [u8; 10] {
    [5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

async fn serve(mut client: TcpStream, state: &State) -> std::io::Result<()> {
    // Greeting: VER NMETHODS METHODS…
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Ok(());
    }
    let mut methods = vec![0u8; head[1] as usize];
    client.read_exact(&mut methods).await?;
    let want = if state.login.is_some() { 2 } else { 0 };
    if !methods.contains(&want) {
        client.write_all(&[5, 0xff]).await?;
        return Ok(());
    }
    client.write_all(&[5, want]).await?;
    let mut who = None;
    if let Some((user, pass)) = &state.login {
        // RFC 1929: VER=1 ULEN UNAME PLEN PASSWD.
        let mut v = [0u8; 2];
        client.read_exact(&mut v).await?;
        let mut u = vec![0u8; v[1] as usize];
        client.read_exact(&mut u).await?;
        let mut pl = [0u8; 1];
        client.read_exact(&mut pl).await?;
        let mut p = vec![0u8; pl[0] as usize];
        client.read_exact(&mut p).await?;
        let (u, p) = (String::from_utf8_lossy(&u), String::from_utf8_lossy(&p));
        let ok = *u == **user && *p == **pass;
        client.write_all(&[1, if ok { 0 } else { 1 }]).await?;
        if !ok {
            return Ok(());
        }
        who = Some(format!("{u}:{p}"));
    }
    // Request: VER CMD RSV ATYP DST.ADDR DST.PORT.
    let mut req = [0u8; 4];
    client.read_exact(&mut req).await?;
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            client.read_exact(&mut a).await?;
            IpAddr::from(a).to_string()
        }
        4 => {
            let mut a = [0u8; 16];
            client.read_exact(&mut a).await?;
            format!("[{}]", IpAddr::from(a))
        }
        3 => {
            let mut n = [0u8; 1];
            client.read_exact(&mut n).await?;
            let mut name = vec![0u8; n[0] as usize];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).to_ascii_lowercase()
        }
        _ => {
            client.write_all(&reply(8)).await?;
            return Ok(());
        }
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    state.targets.lock().unwrap().push(match who {
        Some(w) => format!("{target} as {w}"),
        None => target.clone(),
    });
    if req[1] != 1 {
        client.write_all(&reply(7)).await?;
        return Ok(());
    }
    let refuse = state.refuse.load(Ordering::SeqCst);
    if refuse != 0 {
        client.write_all(&reply(refuse)).await?;
        return Ok(());
    }
    // A domain from the table; an address only when it is loopback.
    let to = match state.routes.iter().find(|(n, _)| *n == target) {
        Some((_, a)) => Some(*a),
        None => target
            .parse::<SocketAddr>()
            .ok()
            .filter(|a| a.ip().is_loopback()),
    };
    let Some(to) = to else {
        // "Host unreachable": the proxy knows no such host.
        client.write_all(&reply(4)).await?;
        return Ok(());
    };
    let Ok(mut server) = TcpStream::connect(to).await else {
        client.write_all(&reply(5)).await?;
        return Ok(());
    };
    client.write_all(&reply(0)).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
