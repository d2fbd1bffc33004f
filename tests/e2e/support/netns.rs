//! A network namespace standing in for a node's network, and paths into it.
//!
//! The namespace is held open by an `unshare -n sleep` process (util-linux `unshare(1)`; the
//! tests run as root) with its loopback brought up. Nothing on this machine is reachable from
//! inside — not the registry, not a resolver — until a test opens a path: a forwarder that
//! listens on the namespace's `127.0.0.1:PORT` and relays each connection to an address on the
//! host side. A thread enters the namespace with `setns(2)` on `/proc/PID/ns/net` just long
//! enough to bind the listener (a socket keeps the namespace it was made in), then returns.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A network namespace, deleted (its holder killed) on drop.
pub struct NetNs {
    holder: std::sync::Mutex<Child>,
    pid: u32,
    stop: Arc<AtomicBool>,
}

impl NetNs {
    /// A fresh namespace with only its loopback up.
    pub fn new() -> NetNs {
        let holder = Command::new("unshare")
            .args(["-n", "sleep", "3600"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unshare -n (the node tests need root)");
        let ns = NetNs {
            pid: holder.id(),
            holder: std::sync::Mutex::new(holder),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let own = std::fs::read_link("/proc/self/ns/net").expect("own netns");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(ns.path()).ok().is_none_or(|l| l == own) {
            assert!(Instant::now() < deadline, "unshare -n made no namespace");
            std::thread::sleep(Duration::from_millis(5));
        }
        let up = ns
            .command("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("ip link");
        assert!(up.success(), "ip link set lo up failed in the namespace");
        ns
    }

    /// `/proc/PID/ns/net` of the holder.
    pub fn path(&self) -> String {
        format!("/proc/{}/ns/net", self.pid)
    }

    /// `PROGRAM` to be run inside the namespace (through `nsenter --net`).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path()))
            .arg("--")
            .arg(program);
        c
    }

    /// Opens a path: connections to the namespace's `127.0.0.1:port` reach `to` on this side.
    pub fn forward(&self, port: u16, to: SocketAddr) {
        let listener = self.bind(port);
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = self.stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((inside, _)) => {
                        let _ = inside.set_nonblocking(false);
                        if let Ok(outside) = TcpStream::connect(to) {
                            relay(inside, outside);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
    }

    /// A listener on the namespace's `127.0.0.1:port`, made from inside it.
    fn bind(&self, port: u16) -> TcpListener {
        let target = std::fs::File::open(self.path()).expect("open netns");
        let path = self.path();
        std::thread::spawn(move || {
            let own = std::fs::File::open("/proc/thread-self/ns/net").expect("own netns");
            // SAFETY: setns on valid namespace descriptors; only this short-lived thread moves.
            let entered = unsafe { libc::setns(target.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0, "setns into {path}");
            let listener = TcpListener::bind(("127.0.0.1", port));
            // SAFETY: as above, back to where the thread started.
            unsafe { libc::setns(own.as_raw_fd(), libc::CLONE_NEWNET) };
            listener.expect("bind inside the namespace")
        })
        .join()
        .expect("bind thread")
    }
}

impl NetNs {
    /// Closes the forwarders and ends the namespace.
    pub fn close(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let mut holder = self.holder.lock().unwrap();
        let _ = holder.kill();
        let _ = holder.wait();
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        self.close();
    }
}

/// Copies both ways until either side closes.
fn relay(a: TcpStream, b: TcpStream) {
    let pipe = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    };
    if let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) {
        pipe(a, b2);
        pipe(b, a2);
    }
}
