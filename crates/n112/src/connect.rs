//! Connecting to the server: address, bearer token, TLS.

use std::path::PathBuf;

use anyhow::Context;
use tonic::transport::Channel;

/// Where the server is and who we are.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Server address (http://… or, with --ca, https://…).
    #[arg(
        long,
        env = "N112_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// Bearer token (from `ngalam112 token issue`).
    #[arg(long, env = "N112_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// PEM CA certificate that signed the server's TLS certificate.
    #[arg(long, env = "N112_CA", global = true)]
    pub ca: Option<PathBuf>,
}

/// The service clients, sharing one connection.
pub use ngalam112_client::Clients as Api;

impl ConnectArgs {
    /// A channel that connects on first use and reconnects by itself.
    pub fn channel(&self) -> anyhow::Result<Channel> {
        let ca = self
            .ca
            .as_ref()
            .map(|ca| {
                std::fs::read(ca).with_context(|| format!("cannot read --ca {}", ca.display()))
            })
            .transpose()?;
        ngalam112_client::channel(&self.server, ca)
            .with_context(|| format!("--server {:?}", self.server))
    }

    pub fn api(&self) -> anyhow::Result<Api> {
        Api::new(self.channel()?, self.token.as_deref())
            .context("the token has characters a header cannot carry")
    }
}

/// One clear line for a failed call: the code and the server's message
/// (which names the field for a bad request).
pub fn describe(status: &tonic::Status) -> String {
    let code = format!("{:?}", status.code());
    let mut upper = String::new();
    for (index, c) in code.chars().enumerate() {
        if c.is_uppercase() && index > 0 {
            upper.push('_');
        }
        upper.push(c.to_ascii_uppercase());
    }
    format!("{upper}: {}", status.message())
}
