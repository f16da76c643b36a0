//! The embedded default database: with no `DATABASE_URL`, the server runs
//! its own PostgreSQL from the machine's PostgreSQL binaries, with data
//! under `--data-dir`, and stops it on shutdown.
//!
//! It never downloads anything. PostgreSQL refuses to run as root, so as
//! root the cluster belongs to, and runs as, the `postgres` user.
//!
//! Nobody else on the machine gets in: the cluster listens on 127.0.0.1
//! only (no Unix socket) and asks every connection for the `postgres`
//! user's password (SCRAM), a random 256-bit secret generated at `initdb`
//! and kept in `<data-dir>/postgres.password` (mode 0600, readable only by
//! the account that runs the server). The data dir itself is 0700 (0711
//! when running as root, so the `postgres` user can reach its cluster
//! directory, which `initdb` makes 0700 and owned by `postgres`).

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};

const INSTALL_HINT: &str = "PostgreSQL server binaries (initdb, pg_ctl) not found: install the \
     PostgreSQL server package (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL";

/// A running cluster this process may have to stop.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin_dir: PathBuf,
    cluster_dir: PathBuf,
    port: u16,
    run_as: Option<String>,
    /// False when the cluster was already running (another process of ours
    /// started it): then it is not ours to stop.
    started_here: bool,
    /// The `postgres` user's password.
    password: String,
}

/// Where the embedded cluster's password is kept, under the data dir.
pub const PASSWORD_FILE: &str = "postgres.password";

impl EmbeddedPostgres {
    /// Starts (initialising on first use) the cluster under `data_dir`, or
    /// attaches to it if it is already running.
    pub fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", data_dir.display()))?;
        let cluster_dir = data_dir.join("postgres");
        let run_as = running_as_root().then(|| "postgres".to_owned());
        restrict(&data_dir, if run_as.is_some() { 0o711 } else { 0o700 })?;
        let password_file = data_dir.join(PASSWORD_FILE);
        // A cluster made before passwords (trust): it gets one at start.
        let needs_password = cluster_dir.join("PG_VERSION").exists() && !password_file.exists();
        let password = match std::fs::read_to_string(&password_file) {
            Ok(password) => password.trim().to_owned(),
            Err(_) => {
                let password = crate::auth::new_secret("pg")?;
                write_private(&password_file, &password)?;
                password
            }
        };
        let mut cluster = Self {
            bin_dir,
            cluster_dir,
            port: 0,
            run_as,
            started_here: false,
            password,
        };
        if !cluster.cluster_dir.join("PG_VERSION").exists() {
            cluster.init(&data_dir)?;
        }
        if let Some(port) = cluster.running_port() {
            tracing::info!(port, "attached to the embedded PostgreSQL already running");
            cluster.port = port;
            if needs_password {
                cluster.require_password()?;
            }
            return Ok(cluster);
        }
        // The same port as last time when it is free, so a client (or a
        // DATABASE_URL written down) keeps working across restarts.
        let port_file = data_dir.join("postgres.port");
        cluster.port = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|text| text.trim().parse::<u16>().ok())
            .filter(|port| port_is_free(*port))
            .map_or_else(free_port, Ok)?;
        std::fs::write(&port_file, cluster.port.to_string())
            .with_context(|| format!("cannot write {}", port_file.display()))?;
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
            cluster.port
        );
        let log = cluster.cluster_dir.join("server.log");
        cluster.pg_ctl(&[
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            path_str(&cluster.cluster_dir)?,
            "-l",
            path_str(&log)?,
            "-o",
            &options,
        ])?;
        cluster.started_here = true;
        tracing::info!(port = cluster.port, dir = %cluster.cluster_dir.display(), "embedded PostgreSQL started");
        if needs_password {
            cluster.require_password()?;
        }
        Ok(cluster)
    }

    pub fn database_url(&self) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    /// A cluster initialised with `trust` by an older release: set the
    /// password (still trusted for this one statement) and from now on
    /// ask every connection for it.
    fn require_password(&self) -> anyhow::Result<()> {
        let statement = format!("ALTER USER postgres PASSWORD '{}'", self.password);
        self.command("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
            ])
            .arg(&statement)
            .output()
            .context("cannot run psql")
            .and_then(check)?;
        std::fs::write(
            self.cluster_dir.join("pg_hba.conf"),
            "# Written by ngalam112: the postgres user's password (SCRAM) for every connection.\n\
             local all all scram-sha-256\n\
             host all all 127.0.0.1/32 scram-sha-256\n\
             host all all ::1/128 scram-sha-256\n",
        )
        .context("cannot write pg_hba.conf")?;
        self.pg_ctl(&["reload", "-D", path_str(&self.cluster_dir)?])?;
        tracing::warn!("the embedded PostgreSQL trusted local users; it now asks for a password");
        Ok(())
    }

    /// Stops the cluster if this process started it.
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.started_here {
            return Ok(());
        }
        self.pg_ctl(&[
            "stop",
            "-w",
            "-m",
            "fast",
            "-D",
            path_str(&self.cluster_dir)?,
        ])?;
        tracing::info!("embedded PostgreSQL stopped");
        Ok(())
    }

    fn init(&self, data_dir: &Path) -> anyhow::Result<()> {
        if let Some(user) = &self.run_as {
            // The postgres user must own the cluster and reach it.
            std::fs::create_dir_all(&self.cluster_dir)?;
            run(Command::new("chown").args([&format!("{user}:"), path_str(&self.cluster_dir)?]))?;
            allow_traversal(data_dir)?;
        }
        // initdb reads the password from a file its user can read; it goes
        // as soon as initdb is done.
        let pwfile = self.cluster_dir.with_extension("initdb-password");
        write_private(&pwfile, &self.password)?;
        if let Some(user) = &self.run_as {
            run(Command::new("chown").args([&format!("{user}:"), path_str(&pwfile)?]))?;
        }
        let initialised = self
            .command("initdb")
            .args(["-D", path_str(&self.cluster_dir)?])
            .args([
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", path_str(&pwfile)?))
            .output()
            .context("cannot run initdb")
            .and_then(check);
        let _ = std::fs::remove_file(&pwfile);
        initialised?;
        tracing::info!(dir = %self.cluster_dir.display(), "embedded PostgreSQL initialised");
        Ok(())
    }

    /// The port of the postmaster running on this cluster, if one is.
    fn running_port(&self) -> Option<u16> {
        let status = self
            .command("pg_ctl")
            .args(["status", "-D", path_str(&self.cluster_dir).ok()?])
            .output()
            .ok()?;
        if !status.status.success() {
            return None;
        }
        // postmaster.pid, line 4: the port.
        let pid_file = std::fs::read_to_string(self.cluster_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let output = self
            .command("pg_ctl")
            .args(args)
            .output()
            .context("cannot run pg_ctl")?;
        check(output).map(|_| ())
    }

    /// A PostgreSQL binary, run as the cluster's owner, in its own process
    /// group so a Ctrl-C meant for the server does not hit the postmaster
    /// before the server has finished with it.
    fn command(&self, program: &str) -> Command {
        let binary = self.bin_dir.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command.process_group(0);
        command
    }
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("path is not UTF-8: {}", path.display()))
}

fn check(output: Output) -> anyhow::Result<Output> {
    if output.status.success() {
        return Ok(output);
    }
    bail!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    )
}

/// Sets a directory's mode (the data dir: owner only).
fn restrict(dir: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", dir.display()))
}

/// Writes a secret to a new file only its owner can read (0600 from the
/// start, never readable by others even for a moment).
fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(secret.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    check(command.output()?).map(|_| ())
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|meta| meta.uid() == 0)
        .unwrap_or(false)
}

/// Lets the postgres user reach the cluster: every directory from the data
/// dir up gets the search (x) bit for others.
fn allow_traversal(data_dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for dir in data_dir.ancestors() {
        let meta = std::fs::metadata(dir)?;
        let mode = meta.permissions().mode();
        if mode & 0o001 == 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o001))?;
        }
    }
    Ok(())
}

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

/// `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
        && output.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if has_server_binaries(&dir) {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server_binaries(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context(INSTALL_HINT)
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
