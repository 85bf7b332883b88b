pub mod dns; pub mod http; pub mod quic; pub mod tls;
