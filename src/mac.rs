//! MAC addresses and OUIs as every output writes them (device and host
//! records, `explain`, evidence, normalised signature keys): lower-case hex
//! pairs joined by colons, `3c:22:fb:01:02:03` and `3c:22:fb`.

use core::fmt;

/// A MAC address; displays as `aa:bb:cc:dd:ee:ff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The first three bytes: the IEEE's assignment, unless the address is
    /// locally administered.
    pub fn oui(self) -> Oui {
        let [a, b, c, ..] = self.0;
        Oui([a, b, c])
    }
}

/// An organizationally unique identifier; displays as `aa:bb:cc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oui(pub [u8; 3]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        colon_hex(&self.0, f)
    }
}

impl fmt::Display for Oui {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        colon_hex(&self.0, f)
    }
}

fn colon_hex(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_str(":")?;
        }
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_lower_case_pairs_joined_by_colons() {
        let mac = Mac([0x3c, 0x22, 0xfb, 0x01, 0x0a, 0xff]);
        assert_eq!(mac.to_string(), "3c:22:fb:01:0a:ff");
        assert_eq!(mac.oui().to_string(), "3c:22:fb");
        assert_eq!(Mac([0; 6]).to_string(), "00:00:00:00:00:00");
    }
}
