//! A throwaway certificate authority, made with the `openssl` command-line tool.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::run::{RunAs, Scratch, Tool, run, write_private};

/// A certificate authority of its own and a server certificate it signed, valid for
/// `localhost`, `127.0.0.1` and `::1`: what a client given [`Ca::cert`] as its only root
/// trusts, with full verification of the host name. Elliptic-curve keys (P-256), which
/// are quick to make and which both OpenSSL (the servers) and rustls (the clients) take.
#[derive(Debug)]
pub struct Ca {
    dir: PathBuf,
    run_as: RunAs,
    /// Only when the CA made its own directory ([`Ca::create`]); last, so that it is
    /// deleted after everything else is dropped.
    _scratch: Option<Scratch>,
}

/// A certificate and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct CertPair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How long the certificates are valid: longer than any test run, short enough to be
/// obviously throwaway.
const DAYS: &str = "7";

/// The subject alternative names of the server certificates.
const SERVER_NAMES: &str = "DNS:localhost, IP:127.0.0.1, IP:::1";

impl Ca {
    /// A new CA in a private directory of its own, with its server certificate.
    pub async fn create() -> Result<Self> {
        let run_as = RunAs::servers()?;
        let scratch = Scratch::new(&run_as)?;
        let mut ca = Self::create_in(scratch.path(), &run_as).await?;
        ca._scratch = Some(scratch);
        Ok(ca)
    }

    /// A new CA in `dir` (created), with its server certificate; its files belong to
    /// `run_as`'s user, so that a server running as that user may read its key.
    pub async fn create_in(dir: &Path, run_as: &RunAs) -> Result<Self> {
        let openssl = Tool::Openssl.require()?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        run_as.own(dir)?;
        let ca = Self {
            dir: dir.to_owned(),
            run_as: run_as.clone(),
            _scratch: None,
        };
        let name = dir
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or("ca");
        write_private(
            &ca.dir.join("openssl.cnf"),
            &format!(
                "[req]\n\
                 distinguished_name = dn\n\
                 prompt = no\n\
                 [dn]\n\
                 CN = Bookstore test CA {name}\n\
                 [ca_ext]\n\
                 basicConstraints = critical, CA:TRUE\n\
                 keyUsage = critical, keyCertSign, cRLSign\n\
                 subjectKeyIdentifier = hash\n\
                 [server_ext]\n\
                 basicConstraints = critical, CA:FALSE\n\
                 keyUsage = critical, digitalSignature\n\
                 extendedKeyUsage = serverAuth\n\
                 subjectAltName = {SERVER_NAMES}\n\
                 subjectKeyIdentifier = hash\n\
                 authorityKeyIdentifier = keyid\n"
            ),
            run_as,
        )?;
        let mut command = run_as.command(&openssl);
        command
            .current_dir(&ca.dir)
            .args([
                "req",
                "-config",
                "openssl.cnf",
                "-x509",
                "-extensions",
                "ca_ext",
            ])
            .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args([
                "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", DAYS,
            ]);
        run("openssl: making the CA", command, Duration::from_secs(30)).await?;
        ca.issue("server").await?;
        Ok(ca)
    }

    /// Another CA, unrelated to this one, in a subdirectory: its certificate is the wrong
    /// root for this CA's servers, and its server certificate does not verify with this CA.
    pub async fn other(&self) -> Result<Self> {
        Self::create_in(&self.dir.join("other"), &self.run_as).await
    }

    /// The CA certificate: what clients trust.
    pub fn cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The server certificate and key this CA signed for 127.0.0.1, ::1 and localhost.
    pub fn server(&self) -> CertPair {
        self.pair("server")
    }

    /// Signs a new server certificate for 127.0.0.1, ::1 and localhost, in files named
    /// after `name`. The key is readable by the servers' user alone, as PostgreSQL demands.
    pub async fn issue(&self, name: &str) -> Result<CertPair> {
        let openssl = Tool::Openssl.require()?;
        let pair = self.pair(name);
        let csr = self.dir.join(format!("{name}.csr"));
        let mut request = self.run_as.command(&openssl);
        request
            .current_dir(&self.dir)
            .args(["req", "-config", "openssl.cnf", "-new"])
            .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .arg("-nodes")
            .arg("-keyout")
            .arg(&pair.key)
            .arg("-out")
            .arg(&csr)
            .args(["-subj", "/CN=localhost"]);
        run("openssl: a server key", request, Duration::from_secs(30)).await?;
        let serial = format!("0x{}", uuid::Uuid::new_v4().simple());
        let mut sign = self.run_as.command(&openssl);
        sign.current_dir(&self.dir)
            .args(["x509", "-req", "-in"])
            .arg(&csr)
            .args(["-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", &serial])
            .args(["-days", DAYS, "-extfile", "openssl.cnf"])
            .args(["-extensions", "server_ext", "-out"])
            .arg(&pair.cert);
        run(
            "openssl: signing a server key",
            sign,
            Duration::from_secs(30),
        )
        .await?;
        set_private(&pair.key)?;
        Ok(pair)
    }

    fn pair(&self, name: &str) -> CertPair {
        CertPair {
            cert: self.dir.join(format!("{name}.crt")),
            key: self.dir.join(format!("{name}.key")),
        }
    }
}

fn set_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("chmod 600 {}", path.display()))
}
