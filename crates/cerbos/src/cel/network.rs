//! cel-go's network library, which Cerbos enables: `ip` and `cidr` values, `isIP`, `isCIDR`,
//! `ip.isCanonical`. Addresses are parsed strictly: no zones, no IPv4-mapped IPv6 addresses.
use std::any::Any;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ::cel::common::functions::Function;
use ::cel::common::types::{CelBool, CelInt, CelString, Kind, Type, STRING_TYPE};
use ::cel::common::value::{CowVal, StaticVal, Val};
use ::cel::{DeclarationError, Env, ExecutionError};

/// The CEL type of IP addresses.
static IP_TYPE: Type = Type::simple_type(Kind::Opaque, "net.IP");
/// The CEL type of CIDR ranges.
static CIDR_TYPE: Type = Type::simple_type(Kind::Opaque, "net.CIDR");

/// An IP address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ip(IpAddr);

/// An address with a prefix length; the address may have host bits set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cidr {
    address: IpAddr,
    length: u8,
}

macro_rules! opaque_val {
    ($name:ident, $type:ident) => {
        impl Val for $name {
            fn get_type(&self) -> &Type {
                &$type
            }

            fn cel_type() -> &'static Type {
                &$type
            }

            fn equals(&self, other: &dyn Val) -> bool {
                other.downcast_ref::<$name>().is_some_and(|o| o == self)
            }

            fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
            where
                Self: 'v,
            {
                Box::new(*self)
            }

            fn as_any(&self) -> Option<&dyn Any> {
                Some(self)
            }
        }

        impl StaticVal for $name {}
    };
}

opaque_val!(Ip, IP_TYPE);
opaque_val!(Cidr, CIDR_TYPE);

fn parse_ip(text: &str) -> Result<IpAddr, String> {
    let address: IpAddr = text
        .parse()
        .map_err(|_| format!("IP address {text:?} is not valid"))?;
    if let IpAddr::V6(v6) = address {
        if v6.to_ipv4_mapped().is_some() {
            return Err(format!("IPv4-mapped IPv6 address {text:?} is not allowed"));
        }
    }
    Ok(address)
}

fn parse_cidr(text: &str) -> Result<Cidr, String> {
    let invalid = || format!("CIDR {text:?} is not valid");
    let (address, length) = text.split_once('/').ok_or_else(invalid)?;
    let address = parse_ip(address).map_err(|_| invalid())?;
    let leading_zero = length.len() > 1 && length.starts_with('0');
    if length.is_empty() || leading_zero || !length.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let length: u8 = length.parse().map_err(|_| invalid())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    if length > max {
        return Err(invalid());
    }
    Ok(Cidr { address, length })
}

fn bits(address: IpAddr) -> (u128, u32) {
    match address {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

impl Cidr {
    fn masked_bits(&self) -> u128 {
        let (value, width) = bits(self.address);
        let host = width - u32::from(self.length);
        value
            .checked_shr(host)
            .unwrap_or(0)
            .checked_shl(host)
            .unwrap_or(0)
    }

    fn masked(&self) -> Cidr {
        let value = self.masked_bits();
        let address = match self.address {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(0))),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
        };
        Cidr {
            address,
            length: self.length,
        }
    }

    fn contains_ip(&self, ip: IpAddr) -> bool {
        if self.address.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        let inner = Cidr {
            address: ip,
            length: self.length,
        };
        inner.masked_bits() == self.masked_bits()
    }

    fn contains_cidr(&self, other: &Cidr) -> bool {
        other.length >= self.length && self.contains_ip(other.address)
    }
}

fn is_global_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_multicast()
                || v4.is_link_local()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || is_link_local_unicast(ip))
        }
    }
}

fn is_link_local_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments().first().is_some_and(|s| s & 0xffc0 == 0xfe80),
    }
}

fn is_link_local_multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => matches!(v4.octets(), [224, 0, 0, _]),
        IpAddr::V6(v6) => v6.segments().first().is_some_and(|s| s & 0xff0f == 0xff02),
    }
}

type Args<'b, 'v> = Vec<CowVal<'b, 'v>>;
type Returns<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn arg<'a, 'b, 'v, T: ::cel::common::value::FromVal<'a, 'v>>(
    args: &'a [CowVal<'b, 'v>],
    index: usize,
    function: &str,
) -> Result<&'a T, ExecutionError> {
    args.get(index)
        .and_then(|a| a.downcast_ref::<T>())
        .ok_or_else(|| ExecutionError::function_error(function, "unexpected argument type"))
}

fn text<'a>(
    args: &'a [CowVal<'_, '_>],
    index: usize,
    function: &str,
) -> Result<&'a str, ExecutionError> {
    Ok(arg::<CelString>(args, index, function)?.inner())
}

fn fail(function: &str) -> impl Fn(String) -> ExecutionError + '_ {
    move |message| ExecutionError::function_error(function, message)
}

fn bool_val<'b, 'v>(b: bool) -> Returns<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(b)))
}

fn ip_of<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let address = parse_ip(text(&args, 0, "ip")?).map_err(fail("ip"))?;
    Ok(CowVal::owned(Ip(address)))
}

fn cidr_of<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let cidr = parse_cidr(text(&args, 0, "cidr")?).map_err(fail("cidr"))?;
    Ok(CowVal::owned(cidr))
}

fn is_ip<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    bool_val(parse_ip(text(&args, 0, "isIP")?).is_ok())
}

fn is_cidr<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    bool_val(parse_cidr(text(&args, 0, "isCIDR")?).is_ok())
}

fn is_canonical<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let written = text(&args, 0, "ip.isCanonical")?;
    let address = parse_ip(written).map_err(fail("ip.isCanonical"))?;
    // Rust writes IPv6 addresses in RFC 5952's form, as Go's netip does.
    bool_val(address.to_string() == written)
}

fn ip_to_string<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let ip = arg::<Ip>(&args, 0, "string")?;
    Ok(CowVal::owned(CelString::from(ip.0.to_string())))
}

fn cidr_to_string<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let cidr = arg::<Cidr>(&args, 0, "string")?;
    Ok(CowVal::owned(CelString::from(format!(
        "{}/{}",
        cidr.address, cidr.length
    ))))
}

fn family<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let ip = arg::<Ip>(&args, 0, "family")?;
    Ok(CowVal::owned(CelInt::from(if ip.0.is_ipv4() {
        4
    } else {
        6
    })))
}

macro_rules! ip_predicate {
    ($name:ident, $function:literal, |$ip:ident| $body:expr) => {
        fn $name<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
            let $ip = arg::<Ip>(&args, 0, $function)?.0;
            bool_val($body)
        }
    };
}

ip_predicate!(is_loopback, "isLoopback", |ip| ip.is_loopback());
ip_predicate!(is_unspecified, "isUnspecified", |ip| ip.is_unspecified());
ip_predicate!(global_unicast, "isGlobalUnicast", |ip| is_global_unicast(
    ip
));
ip_predicate!(link_local_unicast, "isLinkLocalUnicast", |ip| {
    is_link_local_unicast(ip)
});
ip_predicate!(link_local_multicast, "isLinkLocalMulticast", |ip| {
    is_link_local_multicast(ip)
});

fn contains_ip<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let cidr = arg::<Cidr>(&args, 0, "containsIP")?;
    let ip = match args.get(1).and_then(|a| a.downcast_ref::<Ip>()) {
        Some(ip) => ip.0,
        None => parse_ip(text(&args, 1, "containsIP")?).map_err(fail("containsIP"))?,
    };
    bool_val(cidr.contains_ip(ip))
}

fn contains_cidr<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let cidr = arg::<Cidr>(&args, 0, "containsCIDR")?;
    let other = match args.get(1).and_then(|a| a.downcast_ref::<Cidr>()) {
        Some(other) => *other,
        None => parse_cidr(text(&args, 1, "containsCIDR")?).map_err(fail("containsCIDR"))?,
    };
    bool_val(cidr.contains_cidr(&other))
}

fn cidr_ip<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    Ok(CowVal::owned(Ip(arg::<Cidr>(&args, 0, "ip")?.address)))
}

fn masked<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    Ok(CowVal::owned(arg::<Cidr>(&args, 0, "masked")?.masked()))
}

fn is_mask<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let cidr = arg::<Cidr>(&args, 0, "isMask")?;
    bool_val(cidr.masked().address == cidr.address)
}

fn prefix_length<'b, 'v>(args: Args<'b, 'v>) -> Returns<'b, 'v> {
    let cidr = arg::<Cidr>(&args, 0, "prefixLength")?;
    Ok(CowVal::owned(CelInt::from(i64::from(cidr.length))))
}

/// Declares the network functions and the `ip` and `cidr` types.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(IP_TYPE.to_owned())?;
    env.add_type(CIDR_TYPE.to_owned())?;
    let (ip, cidr) = (|| IP_TYPE.to_owned(), || CIDR_TYPE.to_owned());
    env.add_overload("ip", "ip_string", vec![STRING_TYPE], ip_of)?;
    env.add_overload("cidr", "cidr_string", vec![STRING_TYPE], cidr_of)?;
    env.add_overload("isIP", "isIP_string", vec![STRING_TYPE], is_ip)?;
    env.add_overload("isCIDR", "isCIDR_string", vec![STRING_TYPE], is_cidr)?;
    env.add_overload(
        "ip.isCanonical",
        "ip_isCanonical_string",
        vec![STRING_TYPE],
        is_canonical,
    )?;
    env.add_overload("string", "string_ip", vec![ip()], ip_to_string)?;
    env.add_overload("string", "string_cidr", vec![cidr()], cidr_to_string)?;
    let ip_methods: [(&str, Function); 6] = [
        ("family", family),
        ("isLoopback", is_loopback),
        ("isUnspecified", is_unspecified),
        ("isGlobalUnicast", global_unicast),
        ("isLinkLocalUnicast", link_local_unicast),
        ("isLinkLocalMulticast", link_local_multicast),
    ];
    for (name, function) in ip_methods {
        env.add_member_overload(name, &format!("ip_{name}"), ip(), vec![], function)?;
    }
    let cidr_methods: [(&str, Function); 4] = [
        ("ip", cidr_ip),
        ("masked", masked),
        ("isMask", is_mask),
        ("prefixLength", prefix_length),
    ];
    for (name, function) in cidr_methods {
        env.add_member_overload(name, &format!("cidr_{name}"), cidr(), vec![], function)?;
    }
    env.add_member_overload(
        "containsIP",
        "cidr_containsIP_ip",
        cidr(),
        vec![ip()],
        contains_ip,
    )?;
    env.add_member_overload(
        "containsIP",
        "cidr_containsIP_string",
        cidr(),
        vec![STRING_TYPE],
        contains_ip,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_containsCIDR_cidr",
        cidr(),
        vec![cidr()],
        contains_cidr,
    )?;
    env.add_member_overload(
        "containsCIDR",
        "cidr_containsCIDR_string",
        cidr(),
        vec![STRING_TYPE],
        contains_cidr,
    )?;
    Ok(())
}
