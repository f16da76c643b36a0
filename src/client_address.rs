//! Who is on the other end: the client's IP address, for the per-address
//! limits (logins, public figures). Behind a load balancer every call
//! comes from the balancer's address, so the address the balancer saw is
//! read from `X-Forwarded-For` — but only when the connection comes from a
//! proxy named with `--trusted-proxy`: anyone else could write any address
//! there and escape their limit.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<IpAddr>>);

impl TrustedProxies {
    pub fn new(addresses: Vec<IpAddr>) -> Self {
        Self(Arc::new(addresses))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.contains(&address.to_canonical())
    }

    /// The client's address: the connection's peer; or, when the peer is a
    /// trusted proxy, the nearest address in `X-Forwarded-For` that is not
    /// itself a trusted proxy (each proxy appends the address it saw, so
    /// the entries further left are the client's own word). An unknown
    /// peer (no TCP connection) counts as 0.0.0.0.
    pub fn client_of<T>(&self, request: &tonic::Request<T>) -> IpAddr {
        let peer = request
            .remote_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |address| {
                address.ip().to_canonical()
            });
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = request
            .metadata()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for entry in forwarded.iter().rev() {
            match entry.parse::<IpAddr>() {
                Ok(address) if self.trusts(address) => continue,
                Ok(address) => return address.to_canonical(),
                // Garbage from further left cannot be believed; the last
                // trusted hop's peer is what we know.
                Err(_) => return peer,
            }
        }
        peer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_from(peer: &str, forwarded: &[&str]) -> tonic::Request<()> {
        let mut request = tonic::Request::new(());
        let info = tonic::transport::server::TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(peer.parse().expect("a socket address")),
        };
        request.extensions_mut().insert(info);
        for value in forwarded {
            request
                .metadata_mut()
                .append("x-forwarded-for", value.parse().expect("ascii"));
        }
        request
    }

    #[test]
    fn forwarded_addresses_count_only_from_a_trusted_proxy() {
        let balancer: IpAddr = "10.0.0.5".parse().expect("ip");
        let trusted = TrustedProxies::new(vec![balancer]);
        let direct = request_from("203.0.113.9:5000", &["198.51.100.1"]);
        assert_eq!(trusted.client_of(&direct).to_string(), "203.0.113.9");
        let through = request_from("10.0.0.5:5000", &["198.51.100.1, 203.0.113.7"]);
        assert_eq!(trusted.client_of(&through).to_string(), "203.0.113.7");
        let two_hops = request_from("10.0.0.5:5000", &["198.51.100.1", "203.0.113.7, 10.0.0.5"]);
        assert_eq!(trusted.client_of(&two_hops).to_string(), "203.0.113.7");
        let garbage = request_from("10.0.0.5:5000", &["not an address"]);
        assert_eq!(trusted.client_of(&garbage).to_string(), "10.0.0.5");
        let nobody_trusted = TrustedProxies::default();
        assert_eq!(nobody_trusted.client_of(&through).to_string(), "10.0.0.5");
    }
}
