//! invex detect as a measured child: `invex run --config <generated>` with JSON logs, and its
//! admin port (`/health/ready`, `/metrics`) read over plain HTTP/1.0.
//!
//! Every instance gets a fixed `instance_id`, so a restart on another state directory keeps
//! its transactional id (it fences the killed predecessor) and its static group membership.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::error::BenchError;
use super::proc::Proc;

/// One invex instance to start.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    /// Bootstrap servers.
    pub(crate) bootstrap: String,
    /// Schema registry URL.
    pub(crate) registry: String,
    /// Topic prefix.
    pub(crate) prefix: String,
    /// Application id (group, changelogs).
    pub(crate) app: String,
    /// Exactly-once (else at-least-once).
    pub(crate) exactly_once: bool,
    /// Commit interval, milliseconds.
    pub(crate) commit_ms: u64,
    /// Stable instance id.
    pub(crate) instance: String,
    /// RocksDB state directory.
    pub(crate) state_dir: PathBuf,
    /// `detect.detectors`; empty: every detector.
    pub(crate) detectors: &'static [&'static str],
}

impl Instance {
    /// The configuration file's text, with the admin port at `admin`.
    pub(crate) fn config_text(&self, admin: SocketAddr) -> String {
        let guarantee = if self.exactly_once { "exactly_once" } else { "at_least_once" };
        let detect = match self.detectors {
            [] => String::new(),
            names => format!("\n[detect]\ndetectors = {names:?}\n"),
        };
        let main = format!(
            "[kafka]\nbootstrap_servers = {bootstrap:?}\nproperties = {{ \"session.timeout.ms\" = \
             \"6000\" }}\n\n[application]\nid = {app:?}\ntopic_prefix = {prefix:?}\nguarantee = \
             {guarantee:?}\ncommit_interval_ms = {commit}\ninstance_id = {instance:?}\n\n[state]\n\
             dir = {dir:?}\n\n[schema]\nregistry_url = {registry:?}\n\n[admin]\nlisten = \
             \"{admin}\"\n",
            bootstrap = self.bootstrap,
            app = self.app,
            registry = self.registry,
            prefix = self.prefix,
            commit = self.commit_ms,
            instance = self.instance,
            dir = self.state_dir.display().to_string(),
        );
        main + &detect
    }

    /// Writes the configuration into `dir` and starts `invex run` with JSON logs there.
    pub(crate) fn spawn(&self, name: &str, dir: &Path) -> Result<Running, BenchError> {
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, self.config_text(admin))
            .map_err(BenchError::io(format!("writing {}", config.display())))?;
        let exe = std::env::current_exe().map_err(BenchError::io("locating the invex binary"))?;
        let mut command = Command::new(exe);
        command
            .args(["--log-format", "json", "run", "--config"])
            .arg(&config)
            // INVEX_LOG would also be read as a configuration override (`log`) and refused;
            // the default filter (info) has the `task restored` lines recovery reads.
            .env_remove("INVEX_LOG");
        let proc = Proc::spawn(name, command, &dir.join(format!("{name}.log")))?;
        Ok(Running { proc, admin, instance: self.clone() })
    }
}

/// A running instance and its admin address.
pub(crate) struct Running {
    /// The child.
    pub(crate) proc: Proc,
    /// Admin HTTP address.
    pub(crate) admin: SocketAddr,
    /// What was started (to restart it).
    pub(crate) instance: Instance,
}

impl Running {
    /// Waits until `/health/ready` answers 200 with `tasks` tasks running (ready alone is
    /// also true before the group has assigned anything); returns when, or an error after
    /// `limit`.
    pub(crate) fn wait_ready(
        &mut self,
        run: &str,
        tasks: i32,
        limit: Duration,
    ) -> Result<Instant, BenchError> {
        let deadline = Instant::now() + limit;
        loop {
            let ready =
                http_get(self.admin, "/health/ready").is_ok_and(|(status, _)| status == 200);
            if ready && self.metric("invex_tasks_running").is_some_and(|n| n >= f64::from(tasks)) {
                return Ok(Instant::now());
            }
            self.proc.check_alive()?;
            if Instant::now() > deadline {
                let log = self.proc.log().display();
                let message = format!("not ready within {}s; log: {log}", limit.as_secs());
                return Err(BenchError::run(run, message));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// One metric's value from `/metrics` (summed over its label sets).
    pub(crate) fn metric(&self, name: &str) -> Option<f64> {
        let (_, text) = http_get(self.admin, "/metrics").ok()?;
        metric_sum(&text, name)
    }
}

/// A free loopback port (bound, read, released).
pub(crate) fn free_port() -> Result<u16, BenchError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(BenchError::io("finding a free port"))?;
    Ok(listener.local_addr().map_err(BenchError::io("finding a free port"))?.port())
}

/// GET over HTTP/1.0: status code and body.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no HTTP status line"))?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// Sum of every sample of metric `name` in Prometheus text (with or without labels).
pub(crate) fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else { continue };
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        let value = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok());
        if let Some(v) = value {
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_sum_adds_label_sets_and_skips_prefixes() {
        let text = "# HELP invex_restore_total x\ninvex_restore_total 12\n\
                    invex_restore_total_other 99\ninvex_output_records_total{output=\"a\"} 3\n\
                    invex_output_records_total{output=\"b\"} 4\n";
        assert_eq!(metric_sum(text, "invex_restore_total"), Some(12.0));
        assert_eq!(metric_sum(text, "invex_output_records_total"), Some(7.0));
        assert_eq!(metric_sum(text, "invex_missing"), None);
    }

    #[test]
    fn generated_config_is_valid_for_invex() {
        let instance = Instance {
            bootstrap: "127.0.0.1:19092".into(),
            registry: "http://127.0.0.1:18081".into(),
            prefix: "b1.".into(),
            app: "b1.invex-eos".into(),
            exactly_once: false,
            commit_ms: 1000,
            instance: "bench-0".into(),
            state_dir: "/tmp/x".into(),
            detectors: &[],
        };
        let text = instance.config_text(SocketAddr::from(([127, 0, 0, 1], 9000)));
        let cfg = invex_runtime::RuntimeConfig::load(&text, Vec::new()).unwrap();
        assert!(cfg.detectors.is_all());
        let one = Instance { detectors: &["cycle_count"], ..instance };
        let text = one.config_text(SocketAddr::from(([127, 0, 0, 1], 9000)));
        let selected = invex_runtime::RuntimeConfig::load(&text, Vec::new()).unwrap().detectors;
        assert_eq!(selected.names().next(), Some("cycle_count"));
        assert!(!selected.is_all());
        assert_eq!(cfg.guarantee, invex_runtime::Guarantee::AtLeastOnce);
        assert_eq!(cfg.commit_interval, Duration::from_millis(1000));
        assert_eq!(cfg.topic_prefix, "b1.");
        assert_eq!(cfg.instance_id.as_deref(), Some("bench-0"));
        assert_eq!(cfg.admin_listen, Some(SocketAddr::from(([127, 0, 0, 1], 9000))));
    }
}
