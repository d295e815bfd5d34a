#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use crate::api;
use chrono::{DateTime, FixedOffset};

fn principal() -> api::Principal {
    serde_json::from_value(serde_json::json!({
        "id": "john",
        "roles": ["employee"],
        "policyVersion": "default",
        "scope": "x.y.z",
        "attr": {
            "department": "marketing",
            "level": 3,
            "scope": "foo.bar.baz.qux",
            "teams": ["design", "communications", "product", "commercial"],
            "clients": {"acme": {"active": true}, "bb inc": {"active": true}},
            "limits": {"design": 10, "product": 25},
            "ipv4Address": "192.168.0.10",
            "ipv6Address": "2001:0db8:0000:0000:0000:0000:1000:0000",
            "numbers": [1, 2, 3]
        }
    }))
    .unwrap()
}

fn resource() -> api::Resource {
    serde_json::from_value(serde_json::json!({
        "kind": "leave_request",
        "id": "XX125",
        "policyVersion": "default",
        "scope": "a.b.c",
        "attr": {
            "owner": "john",
            "department": "marketing",
            "scope": "foo.bar",
            "cooldownPeriod": "3750s",
            "lastAccessed": "2021-04-20T10:00:20.021-05:00",
            "lastUpdateTime": "2021-05-01T13:34:12.024Z",
            "geographies": ["GB", "US"],
            "nothing": null
        }
    }))
    .unwrap()
}

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2021-05-02T12:00:00+02:00").unwrap()
}

/// Evaluates `source` against the standard request, globals, constants and variables.
fn eval_with(source: &str, relations: Option<&dyn RelationCheck>) -> Result<Value, EvalError> {
    let principal = principal();
    let resource = resource();
    let aux = serde_json::json!({"jwt": {"iss": "cerbos", "aud": ["cerbie"]}});
    let request = RequestValues::new(&principal, &resource, Some(&aux), now(), relations);
    let globals = Globals::from_json(&serde_json::Map::from_iter([(
        "environment".to_owned(),
        serde_json::json!("test"),
    )]));
    let constants = Constants::from_json(&serde_json::Map::from_iter([(
        "limit".to_owned(),
        serde_json::json!(10),
    )]));
    let mut variables = Variables::new();
    variables.insert("is_owner", Value::Bool(true)).unwrap();
    variables.insert("label", Value::from("alpha")).unwrap();
    let roles = vec!["owner".to_owned()];
    let bindings = Bindings::new(&request)
        .with_globals(&globals)
        .with_constants(&constants)
        .with_variables(&variables)
        .with_effective_derived_roles(&roles);
    Expr::compile(source)
        .unwrap_or_else(|e| panic!("{source}: {e}"))
        .eval(&bindings)
}

fn eval(source: &str) -> Result<Value, EvalError> {
    eval_with(source, None)
}

#[track_caller]
fn assert_true(source: &str) {
    assert_eq!(eval(source), Ok(Value::Bool(true)), "{source}");
}

#[track_caller]
fn assert_error(source: &str) {
    let result = eval(source);
    assert!(result.is_err(), "{source} should fail, got {result:?}");
}

#[test]
fn request_fields_and_aliases() {
    for source in [
        r#"request.resource.id == "XX125""#,
        r#"request.resource.kind == "leave_request""#,
        r#"request.resource.policyVersion == "default""#,
        r#"request.resource.policy_version == "default""#,
        r#"request.resource.scope == "a.b.c""#,
        r#"request.principal.id == "john""#,
        r#"request.principal.policyVersion == "default""#,
        r#"request.principal.scope == "x.y.z""#,
        r#""employee" in request.principal.roles"#,
        r#"P.id == request.principal.id && R.attr.owner == P.id"#,
        r#"request.auxData.jwt.iss == "cerbos""#,
        r#""cerbie" in request.aux_data.jwt.aud"#,
        r#"request.principal.attr.clients["acme"]["active"] == true"#,
        r#"V.is_owner && variables.label == "alpha" && V["label"] == "alpha""#,
        r#"C.limit == 10 && constants.limit == 10.0"#,
        r#"G.environment == "test" && globals.environment == "test""#,
        r#"runtime.effectiveDerivedRoles == ["owner"]"#,
        r#""owner" in runtime.effective_derived_roles"#,
        r#"request.principal.attr.department == R.attr.department"#,
        r#"has(R.attr.owner) && !has(R.attr.missing)"#,
        r#"R.attr.nothing == null"#,
        r#"request.resource.attr.owner == "john""#,
        r#"size(request) == 4"#,
        r#"request.principal.attr.clients.acme.active && P.attr.clients["bb inc"].active"#,
        r#"P.attr == request.principal.attr && R == request.resource && size(P.attr) == 9"#,
        r#"request.principal.roles == P.roles && P.policy_version == "default""#,
    ] {
        assert_true(source);
    }
    assert_error("R.attr.missing == 1");
    assert_error("V.undefined");
    assert_error("request.auxData.jwt.missing");
}

#[test]
fn json_numbers_are_doubles() {
    assert_true("P.attr.level == 3");
    assert_true("P.attr.level < 4 && P.attr.level > 2.5 && P.attr.level >= 3");
    assert_true("3 in P.attr.numbers && 3.0 in P.attr.numbers");
    assert_true("P.attr.level + 1.0 == 4.0");
    assert_true("int(P.attr.level) + 1 == 4");
    assert_error("P.attr.level + 1");
    assert_eq!(eval("P.attr.level"), Ok(Value::Float(3.0)));
    // The set functions do not equate ints with doubles.
    assert_eq!(
        eval("hasIntersection(P.attr.numbers, [1, 2])"),
        Ok(Value::Bool(false))
    );
    assert_true("hasIntersection(P.attr.numbers, [1.0, 7.0])");
    assert_true("[1].isSubset(P.attr.numbers) == false");
}

#[test]
fn hierarchy_functions() {
    for source in [
        r#"hierarchy("a.b.c") == hierarchy(["a","b","c"])"#,
        r#"hierarchy("a:b:c", ":").size() == 3"#,
        r#"size(hierarchy("a.b.c")) == 3"#,
        r#"hierarchy("a.b").ancestorOf(hierarchy("a.b.c.d"))"#,
        r#"!hierarchy("a.b").ancestorOf(hierarchy("a.b"))"#,
        r#"!hierarchy("a.x").ancestorOf(hierarchy("a.b.c"))"#,
        r#"hierarchy(R.attr.scope).commonAncestors(hierarchy(P.attr.scope)) == hierarchy("foo.bar")"#,
        r#"hierarchy("a.b.c").commonAncestors(hierarchy("a.b.d")) == hierarchy("a.b")"#,
        r#"hierarchy("a.b.c").commonAncestors(hierarchy("a.b.c")) == hierarchy("a.b")"#,
        r#"hierarchy("a.b.c.d").descendentOf(hierarchy("a.b"))"#,
        r#"hierarchy("a.b.c").immediateChildOf(hierarchy("a.b")) && !hierarchy("a.b.c.d").immediateChildOf(hierarchy("a.b"))"#,
        r#"hierarchy("a.b").immediateParentOf(hierarchy("a.b.c")) && !hierarchy("a.b").immediateParentOf(hierarchy("a.b.c.d"))"#,
        r#"hierarchy("a.b.c").overlaps(hierarchy("a.b.c.d.e")) && !hierarchy("a.b.x").overlaps(hierarchy("a.b.c.d.e"))"#,
        r#"hierarchy("a.b.c.d.e").overlaps(hierarchy("a.b")) && hierarchy("a.b").overlaps(hierarchy("a.b"))"#,
        r#"hierarchy("a.b.c").siblingOf(hierarchy("a.b.d")) && !hierarchy("a.b.c").siblingOf(hierarchy("a.x.d"))"#,
        r#"!hierarchy("a.b.c").siblingOf(hierarchy("a.b"))"#,
        r#"hierarchy("a.b.c.d")[1] == "b""#,
        r#"hierarchy("a.b") != hierarchy("a.c")"#,
    ] {
        assert_true(source);
    }
    assert_error(r#"hierarchy("a.b")[2]"#);
    assert_error(r#"hierarchy("a.b")["x"]"#);
    assert_error(r#"hierarchy(["a", 1])"#);
    assert_error(r#"hierarchy("a.b").ancestorOf("a.b.c")"#);
}

#[test]
fn ip_address_ranges() {
    assert_true(r#"P.attr.ipv4Address.inIPAddrRange("192.168.0.0/24")"#);
    assert_true(r#"P.attr.ipv6Address.inIPAddrRange("2001:db8::/48")"#);
    assert_true(r#"!"192.168.1.10".inIPAddrRange("192.168.0.0/24")"#);
    assert_true(r#""10.1.2.3".inIPAddrRange("0.0.0.0/0")"#);
    assert_true(r#""10.1.2.3".inIPAddrRange("10.1.2.3/32")"#);
    assert_true(r#""::ffff:192.168.0.1".inIPAddrRange("192.168.0.0/16")"#);
    assert_true(r#"!"192.168.0.1".inIPAddrRange("2001:db8::/48")"#);
    assert_error(r#""not an ip".inIPAddrRange("192.168.0.0/24")"#);
    assert_error(r#""192.168.0.1".inIPAddrRange("192.168.0.0/33")"#);
    assert_error(r#""192.168.0.1".inIPAddrRange("192.168.0.0")"#);
}

#[test]
fn network_functions() {
    for source in [
        r#"isIP(P.attr.ipv4Address) && isIP(P.attr.ipv6Address) && !isIP("1.2.3") && !isIP("::ffff:1.2.3.4")"#,
        r#"ip(P.attr.ipv4Address).family() == 4 && ip(P.attr.ipv6Address).family() == 6"#,
        r#"ip("127.0.0.1").isLoopback() && ip("::1").isLoopback() && !ip(P.attr.ipv4Address).isLoopback()"#,
        r#"ip(P.attr.ipv6Address).isGlobalUnicast() && ip("10.0.0.1").isGlobalUnicast() && !ip("255.255.255.255").isGlobalUnicast()"#,
        r#"ip("ff02::1").isLinkLocalMulticast() && ip("224.0.0.9").isLinkLocalMulticast() && !ip(P.attr.ipv6Address).isLinkLocalMulticast()"#,
        r#"ip("fe80::1").isLinkLocalUnicast() && ip("169.254.1.1").isLinkLocalUnicast() && !ip(P.attr.ipv6Address).isLinkLocalUnicast()"#,
        r#"ip("0.0.0.0").isUnspecified() && ip("::").isUnspecified() && !ip(P.attr.ipv4Address).isUnspecified()"#,
        r#"ip.isCanonical("2001:db8::1") && !ip.isCanonical("2001:DB8::1") && !ip.isCanonical(P.attr.ipv6Address)"#,
        r#"isCIDR("192.168.0.0/24") && isCIDR("::1/128") && isCIDR("10.0.0.1/8") && !isCIDR("10.0.0.0/33")"#,
        r#"cidr("192.168.0.0/24").containsIP(P.attr.ipv4Address) && cidr("192.168.0.0/24").containsIP(ip(P.attr.ipv4Address))"#,
        r#"cidr("2001:db8::/48").containsIP(P.attr.ipv6Address) && !cidr("2001:db8::/48").containsIP("10.0.0.1")"#,
        r#"cidr("192.168.0.0/8").containsCIDR(cidr("192.168.1.0/24")) && !cidr("192.168.1.0/24").containsCIDR("192.168.0.0/16")"#,
        r#"cidr("192.168.1.0/24").isMask() && !cidr("192.168.1.5/24").isMask()"#,
        r#"cidr("192.168.1.5/24").masked() == cidr("192.168.1.0/24")"#,
        r#"cidr("192.168.1.5/24").ip() == ip("192.168.1.5")"#,
        r#"cidr("192.168.1.0/24").prefixLength() == 24"#,
        r#"string(ip("2001:DB8::1")) == "2001:db8::1" && string(cidr("10.0.0.0/8")) == "10.0.0.0/8""#,
    ] {
        assert_true(source);
    }
    assert_error(r#"ip("300.1.1.1")"#);
    assert_error(r#"cidr("10.0.0.0")"#);
    assert_error(r#"ip.isCanonical("nope")"#);
}

#[test]
fn spiffe_functions() {
    let principal_id = r#"spiffeID("spiffe://cerbos.dev/ns/privileged/sa/curl")"#;
    for source in [
        format!(r#"{principal_id}.isMemberOf(spiffeTrustDomain("spiffe://cerbos.dev"))"#),
        format!(r#"!{principal_id}.isMemberOf(spiffeTrustDomain("example.org"))"#),
        format!(r#"{principal_id}.path() == "/ns/privileged/sa/curl""#),
        format!(r#"{principal_id}.trustDomain() == spiffeTrustDomain("spiffe://cerbos.dev")"#),
        format!(r#"spiffeMatchAny().matchesID({principal_id})"#),
        format!(
            r#"spiffeMatchExact(spiffeID("spiffe://cerbos.dev/ns/privileged/sa/curl")).matchesID({principal_id})"#
        ),
        format!(r#"!spiffeMatchExact("spiffe://cerbos.dev/other").matchesID({principal_id})"#),
        format!(
            r#"spiffeMatchOneOf(["spiffe://cerbos.dev/ns/privileged/sa/curl", "spiffe://cerbos.dev/ns/privileged/sa/foo"]).matchesID({principal_id})"#
        ),
        format!(
            r#"spiffeMatchTrustDomain(spiffeTrustDomain("spiffe://cerbos.dev")).matchesID({principal_id})"#
        ),
        r#"spiffeMatchTrustDomain("cerbos.dev").matchesID("spiffe://cerbos.dev/x")"#.to_owned(),
        r#"spiffeTrustDomain("cerbos.dev").id() == "spiffe://cerbos.dev""#.to_owned(),
        r#"spiffeTrustDomain("spiffe://cerbos.dev").name() == "cerbos.dev""#.to_owned(),
        r#"spiffeID("spiffe://cerbos.dev/a") == "spiffe://cerbos.dev/a""#.to_owned(),
        r#"string(spiffeID("spiffe://cerbos.dev/a")) == "spiffe://cerbos.dev/a""#.to_owned(),
    ] {
        assert_true(&source);
    }
    for bad in [
        r#"spiffeID("https://cerbos.dev/a")"#,
        r#"spiffeID("spiffe://Cerbos.dev/a")"#,
        r#"spiffeID("spiffe://cerbos.dev/a//b")"#,
        r#"spiffeID("spiffe://cerbos.dev/a/")"#,
        r#"spiffeID("spiffe://cerbos.dev/../a")"#,
        r#"spiffeTrustDomain("bad domain")"#,
    ] {
        assert_error(bad);
    }
}

#[test]
fn lists_and_sets() {
    for source in [
        r#"P.attr.teams + ["design", "engineering"] == ["design", "communications", "product", "commercial", "design", "engineering"]"#,
        r#"P.attr.teams[0] == "design""#,
        r#"P.attr.teams.all(t, size(t) > 3)"#,
        r#"[1, 2, 3].all(i, j, i < j)"#,
        r#"[1, 2, 2, 3, 3, 3].distinct() == [1, 2, 3]"#,
        r#"P.attr.teams.except(["design", "engineering"]) == ["communications", "product", "commercial"]"#,
        r#"except(P.attr.teams, ["design"]) == ["communications", "product", "commercial"]"#,
        r#"P.attr.teams.exists(t, t.startsWith("comm"))"#,
        r#"P.attr.limits.exists(k, v, k == "design" && v > 0)"#,
        r#"P.attr.teams.exists_one(t, t.startsWith("comm")) == false"#,
        r#"P.attr.limits.exists_one(k, v, k == "design" && v > 0)"#,
        r#"[1, 2, 3].existsOne(i, v, v == 2)"#,
        r#"size(P.attr.teams.filter(t, t.matches("^comm"))) == 2"#,
        r#"[1,2,[],[],[3,4]].flatten() == [1, 2, 3, 4]"#,
        r#"[1,[2,[3,[4]]]].flatten(2) == [1, 2, 3, [4]]"#,
        r#"hasIntersection(["design", "engineering"], P.attr.teams)"#,
        r#"["design", "engineering"].has_intersection(P.attr.teams)"#,
        r#"("design" in P.attr.teams) && ("acme" in P.attr.clients)"#,
        r#"intersect(["design", "engineering"], P.attr.teams) == ["design"]"#,
        r#"P.attr.teams.intersect(["product", "design", "x"]) == ["product", "design"]"#,
        r#"["design", "engineering"].isSubset(P.attr.teams) == false"#,
        r#"["design", "product"].isSubset(P.attr.teams)"#,
        r#"is_subset(["design"], P.attr.teams)"#,
        r#"lists.range(5) == [0, 1, 2, 3, 4]"#,
        r#""DESIGN" in P.attr.teams.map(t, t.upperAscii())"#,
        r#"[5, 3, 1, 2].reverse() == [2, 1, 3, 5]"#,
        r#"sets.contains(P.attr.teams, ["design"])"#,
        r#"sets.equivalent(P.attr.teams, ["commercial", "product", "communications", "design"])"#,
        r#"sets.intersects(["design", "engineering"], P.attr.teams)"#,
        r#"size(P.attr.teams) == 4 && size(P.attr.clients) == 2"#,
        r#"[1,2,3,4].slice(1, 3) == [2, 3]"#,
        r#"[3, 2, 1].sort() == [1, 2, 3]"#,
        r#"[{ "name": "foo", "score": 0 },{ "name": "bar", "score": -10 },{ "name": "baz", "score": 1000 }].sortBy(e, e.score).map(e, e.name) == ["bar", "foo", "baz"]"#,
        r#"[1, 2, 3].transformList(i, v, i > 0, 2 * v) == [4, 6]"#,
        r#"[1, 2, 3].transformList(i, v, 2 * v) == [2, 4, 6]"#,
        r#"[1, 2, 3].transformMap(i, v, i > 0, 2 * v) == {1: 4, 2: 6}"#,
        r#"{'greeting': 'hello'}.transformMapEntry(k, v, {v: k}) == {'hello': 'greeting'}"#,
        r#"{'a': 1, 'b': 2}.transformMap(k, v, v * 10) == {'a': 10, 'b': 20}"#,
        r#"cel.bind(x, 2, x * x) == 4"#,
        r#"P.attr.numbers.transformMapEntry(i, v, {v: i}) == {1: 0, 2: 1, 3: 2}"#,
        r#"{P.attr.level: "three"}[3] == "three""#,
        r#"cel.bind(t, P.attr.teams, t.size() == 4 && t[0] == "design")"#,
        r#"id(3) == 3"#,
    ] {
        assert_true(source);
    }
    assert_error(r#"{'a': 'x', 'b': 'x'}.transformMapEntry(k, v, {v: k})"#);
    assert_error(r#"intersect(P.attr.teams, "design")"#);
    assert_eq!(
        Expr::compile("[1].all(x, x, x > 0)")
            .err()
            .map(|e| e.message),
        Some("duplicate variable name".to_owned())
    );
}

#[test]
fn path_functions() {
    for source in [
        r#"basePath("/path/to/dir") == "dir""#,
        r#"dirPath("/path/to/file.txt") == "/path/to""#,
        r#"extPath("/path/to/file.txt") == ".txt""#,
        r#"joinPath(["/path", "to", "file.txt"]) == "/path/to/file.txt""#,
        r#"joinPath(["a", "", "../b"]) == "b""#,
        r#"pathHasPrefix("/path/to/dir", "/path/to") && "/path/to/dir".pathHasPrefix("/path/to")"#,
        r#"!pathHasPrefix("/path/tomorrow", "/path/to") && pathHasPrefix("/a", "/a")"#,
        r#"pathMatch("/path/to/file.zip", "/path/to/*.zip") && "/path/to/file.zip".pathMatch("/path/to/*.zip")"#,
        r#"!pathMatch("/path/to/sub/file.zip", "/path/to/*.zip")"#,
        r#"pathMatchAnyOf("/path/to/file.zip", ["/path/to/*.tar.gz", "/path/to/*.zip"])"#,
        r#""/path/to/file.zip".pathMatchAnyOf(["/path/to/*.tar.gz", "/path/to/*.zip"])"#,
        r#"relPath("/path/to", "/path/to/file.txt") == "file.txt""#,
        r#"volumeName("C:\\path\\to\\dir") == "C:" && volumeName("/path") == """#,
        r#"dirPath("C:\\path\\to\\file.txt") == "C:\\path\\to""#,
        r#"basePath("C:\\path\\to\\file.txt") == "file.txt""#,
    ] {
        assert_true(source);
    }
    assert_error(r#"pathMatch("/a", "[")"#);
    assert_error(r#"relPath("/a", "b")"#);
}

#[test]
fn math_functions() {
    for source in [
        "math.abs(1.2) == 1.2 && math.abs(-2) == 2",
        "math.bitAnd(3u, 2u) == 2u && math.bitAnd(3, 5) == 1 && math.bitAnd(-3, -5) == -7",
        "math.bitNot(1) == -2",
        "math.bitNot(-1) == 0",
        "math.bitNot(0u) == 18446744073709551615u",
        "math.bitOr(1u, 2u) == 3u && math.bitOr(-2, -4) == -2",
        "math.bitShiftLeft(1, 2) == 4 && math.bitShiftLeft(-1, 2) == -4 && math.bitShiftLeft(1u, 2) == 4u && math.bitShiftLeft(1u, 200) == 0u",
        "math.bitShiftRight(1024, 2) == 256 && math.bitShiftRight(1024u, 2) == 256u && math.bitShiftLeft(1024u, 64) == 0u",
        "math.bitXor(3u, 5u) == 6u && math.bitXor(1, 3) == 2",
        "math.ceil(1.2) == 2.0 && math.ceil(-1.2) == -1.0",
        "math.floor(1.2) == 1.0 && math.floor(-1.2) == -2.0",
        "math.greatest([1, 3, 5]) == 5 && math.greatest(1, 3, 5) == 5",
        "!math.isFinite(0.0/0.0) && math.isFinite(1.2)",
        "math.isInf(1.0/0.0) && !math.isInf(1.2)",
        "math.isNaN(0.0/0.0) && !math.isNaN(1.2)",
        "math.least([1, 3, 5]) == 1 && math.least(1, 3, 5) == 1",
        "math.round(1.2) == 1.0 && math.round(1.5) == 2.0 && math.round(-1.5) == -2.0",
        "math.sign(1.2) == 1.0 && math.sign(-2) == -1 && math.sign(0) == 0",
        "math.trunc(1.2) == 1.0 && math.trunc(-1.2) == -1.0",
        "math.greatest(P.attr.level, 1.0) == 3.0",
    ] {
        assert_true(source);
    }
    assert_error("1 / 0");
}

#[test]
fn string_functions() {
    for source in [
        r#"base64.encode(bytes("hello")) == "aGVsbG8=""#,
        r#"base64.decode("aGVsbG8=") == bytes("hello")"#,
        r#"R.attr.department.charAt(1) == 'a'"#,
        r#"R.attr.department.contains("arket")"#,
        r#"R.attr.department.endsWith("ing")"#,
        r#""department_%s_%d".format(["marketing", 1]) == "department_marketing_1""#,
        r#"R.attr.department.indexOf('a') == 1"#,
        r#"R.attr.department.lastIndexOf('g') == 8"#,
        r#""MARKETING".lowerAscii() == R.attr.department"#,
        r#"R.attr.department.matches("^[mM].*g$")"#,
        r#"R.attr.department.replace("market", "engineer") == "engineering""#,
        r#""engineering".replace("e", "a", 1) == "angineering" && "engineering".replace("e", "a", -1) == "anginaaring""#,
        r#"size(R.attr.department) == 9"#,
        r#""a,b,c,d".split(",")[1] == "b""#,
        r#""a,b,c,d".split(",", 2)[1] == "b,c,d""#,
        r#"R.attr.department.startsWith("mark")"#,
        r#"R.attr.department.substring(4) == "eting" && R.attr.department.substring(4, 6) == "et""#,
        r#""  marketing  ".trim() == "marketing""#,
        r#"R.attr.department.upperAscii() == "MARKETING""#,
        r#"["a", "b"].join("-") == "a-b""#,
        r#"P.id.matches("^jo")"#,
        r#"json.encode(R.attr.geographies) == "[\"GB\",\"US\"]""#,
        r#"json.encode({"b": P.attr.level, "a": [1.5, true, null]}) == "{\"a\":[1.5,true,null],\"b\":3}""#,
        r#"regex.replace("banana", "a", "i") == "binini""#,
        r#"regex.replace("banana", "a", "i", 1) == "binana" && regex.replace("banana", "a", "x", 0) == "banana""#,
        r#"regex.replace("banana", "a", "x", -12) == "bxnxnx""#,
        r#"regex.replace("banana", "b(a).*", "\\1") == "a""#,
        r#"regex.replace("foo bar", "(fo)o (ba)r", "\\2 \\1") == "ba fo""#,
        r#"regex.extract("hello world", "hello(.*)") == optional.of(" world")"#,
        r#"regex.extract("item-A, item-B", "item-(\\w+)") == optional.of("A")"#,
        r#"regex.extract("HELLO", "hello") == optional.none()"#,
        r#"regex.extractAll("a bb a cc", "a") == ["a", "a"] && regex.extractAll("a bb a cc", "x") == []"#,
        r#"regex.extractAll("id:123, id:456", "id:(\\d+)") == ["123", "456"]"#,
    ] {
        assert_true(source);
    }
    assert_error(r#"R.attr.department.charAt(100)"#);
    assert_error(r#"regex.replace("test", "(.)", "\\2")"#);
    assert_error(r#"regex.replace("foo bar", "(", "x")"#);
    assert_error(r#"regex.extract("testuser@testdomain", "(.*)@([^.]*)")"#);
    assert_error(r#"base64.decode("***")"#);
}

#[test]
fn timestamps_and_durations() {
    for source in [
        r#"duration(R.attr.cooldownPeriod).getSeconds() == 3750"#,
        r#"duration(R.attr.cooldownPeriod).getHours() == 1"#,
        r#"duration(R.attr.cooldownPeriod).getMilliseconds() == 3750000"#,
        r#"duration(R.attr.cooldownPeriod).getMinutes() == 62"#,
        r#"timestamp(R.attr.lastAccessed).timeSince() > duration("1h")"#,
        r#"timeSince(timestamp(R.attr.lastAccessed)) > duration("1h")"#,
        r#"timestamp(R.attr.lastAccessed).getFullYear() == 2021"#,
        r#"timestamp(R.attr.lastAccessed).getDate() == 20"#,
        r#"timestamp(R.attr.lastAccessed).getDayOfMonth() == 19"#,
        r#"timestamp(R.attr.lastAccessed).getDayOfWeek() == 2"#,
        r#"timestamp(R.attr.lastAccessed).getDayOfYear() == 109"#,
        r#"timestamp(R.attr.lastAccessed).getHours("-05:00") == 10"#,
        r#"timestamp(R.attr.lastAccessed).getHours() == 15"#,
        r#"timestamp(R.attr.lastAccessed).getHours("UTC") == 15"#,
        r#"timestamp(R.attr.lastAccessed).getHours("Asia/Kolkata") == 20"#,
        r#"timestamp(R.attr.lastAccessed).getMilliseconds() == 21"#,
        r#"timestamp(R.attr.lastAccessed).getMinutes("UTC") == 0"#,
        r#"timestamp(R.attr.lastAccessed).getMonth("NZ") == 3"#,
        r#"timestamp(R.attr.lastAccessed).getSeconds() == 20"#,
        r#"timestamp("2021-12-31T23:30:00-05:00").getFullYear() == 2022"#,
        r#"timestamp("2021-12-31T23:30:00-05:00").getFullYear("-05:00") == 2021"#,
        r#"now() > timestamp(R.attr.lastAccessed)"#,
        r#"now() == timestamp("2021-05-02T10:00:00Z")"#,
        r#"timestamp(R.attr.lastUpdateTime) - timestamp(R.attr.lastAccessed) > duration("36h")"#,
        r#"timestamp(R.attr.lastUpdateTime) + duration("24h") == timestamp("2021-05-02T13:34:12.024Z")"#,
        r#"now() - timestamp(R.attr.lastUpdateTime) == timestamp(R.attr.lastUpdateTime).timeSince()"#,
    ] {
        assert_true(source);
    }
    assert_error(r#"timestamp("yesterday")"#);
    assert_error(r#"duration("1d")"#);
    assert_error(r#"duration("1h").getMonth()"#);
    assert_error(r#"timestamp(R.attr.lastAccessed).getHours("Nowhere/City")"#);
}

#[test]
fn now_is_one_instant_per_request() {
    assert_eq!(
        eval("now()"),
        Ok(Value::Timestamp(now())),
        "now() is the request's instant"
    );
    assert_eq!(
        eval("timestamp(R.attr.lastUpdateTime).timeSince()"),
        Ok(Value::Duration(now().signed_duration_since(
            DateTime::parse_from_rfc3339("2021-05-01T13:34:12.024Z").unwrap()
        )))
    );
}

struct FakeDirectory;

impl RelationCheck for FakeDirectory {
    fn check(&self, subject: &str, relation: &str, object: &str) -> bool {
        (subject, relation, object) == ("user:john", "can_read", "document:XX125")
    }
}

#[test]
fn directory_check() {
    let directory = FakeDirectory;
    let check = |source: &str| eval_with(source, Some(&directory));
    assert_eq!(
        check(r#"lictor.check("user:" + P.id, "can_read", "document:" + R.id)"#),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        check(r#"lictor.check("user:" + P.id, "can_write", "document:" + R.id)"#),
        Ok(Value::Bool(false))
    );
    assert_eq!(
        check(
            r#"[P.id, "jane"].filter(u, lictor.check("user:" + u, "can_read", "document:XX125"))"#
        ),
        Ok(Value::List(std::sync::Arc::new(vec![Value::from("john")])))
    );
    assert!(check(r#"lictor.check("user:john", 1, "document:XX125")"#).is_err());
    // No directory bound: every check is false.
    assert_eq!(
        eval(r#"lictor.check("user:john", "can_read", "document:XX125")"#),
        Ok(Value::Bool(false))
    );
}

#[test]
fn compile_errors_name_line_and_column() {
    let error = Expr::compile("R.attr.x ==").unwrap_err();
    assert_eq!((error.line, error.column), (1, 12), "{error}");
    let error = Expr::compile("true &&\n  (R.attr.x +)").unwrap_err();
    assert_eq!(error.line, 2, "{error}");
    assert!(error.column > 1, "{error}");
}

#[test]
fn undeclared_identifiers_do_not_compile() {
    let error = Expr::compile("P.id == 'x' &&\n  reqest.principal.id == 'y'").unwrap_err();
    assert_eq!(
        (error.message.as_str(), error.line, error.column),
        ("undeclared reference to 'reqest'", 2, 3)
    );
    assert!(Expr::compile("[1].exists(x, y > 0)").is_err());
    assert!(Expr::compile("x > 0 || [1].exists(x, x > 0)").is_err());
    for fine in [
        "[1].exists(x, x > 0) && {'a': 1}.all(k, v, k == 'a' && v == 1)",
        "cel.bind(n, 2, n * n == 4)",
        "math.abs(-1) == 1 && type(1) == int && ip.isCanonical('::1')",
        "[1].map(x, [2].map(y, x + y))[0][0] == 3",
        "optional.of(1).hasValue() && lists.range(2) == [0, 1]",
    ] {
        assert!(Expr::compile(fine).is_ok(), "{fine}");
    }
}

#[test]
fn eval_bool_requires_a_bool() {
    let principal = principal();
    let resource = resource();
    let request = RequestValues::new(&principal, &resource, None, now(), None);
    let bindings = Bindings::new(&request);
    assert_eq!(
        Expr::compile("P.id == 'john'")
            .unwrap()
            .eval_bool(&bindings),
        Ok(true)
    );
    assert!(Expr::compile("P.id").unwrap().eval_bool(&bindings).is_err());
    assert!(Expr::compile("P.attr.level + 1 > 2")
        .unwrap()
        .eval_bool(&bindings)
        .is_err());
    // Without auxiliary data, the JWT is an empty map.
    assert_eq!(
        Expr::compile("size(request.auxData.jwt) == 0")
            .unwrap()
            .eval_bool(&bindings),
        Ok(true)
    );
}

#[test]
fn referenced_variables() {
    let expr = Expr::compile(
        r#"V.a && variables.b == 1 && V["c"] > 2 && [1].all(x, V.a) && R.attr.v == C.d"#,
    )
    .unwrap();
    assert_eq!(expr.referenced_variables(), ["a", "b", "c"]);
    assert!(Expr::compile("P.id == 'x'")
        .unwrap()
        .referenced_variables()
        .is_empty());
}

#[test]
fn values_as_json() {
    let cases = [
        (
            "timestamp('2021-04-20T10:00:05.12+02:00')",
            serde_json::json!("2021-04-20T10:00:05.12+02:00"),
        ),
        (
            "timestamp('2021-04-20T10:00:05Z')",
            serde_json::json!("2021-04-20T10:00:05Z"),
        ),
        ("duration('90m')", serde_json::json!("5400s")),
        ("duration('1.5s')", serde_json::json!("1.5s")),
        ("duration('-100ms')", serde_json::json!("-0.1s")),
        ("b'hi'", serde_json::json!("aGk=")),
        (
            "[1, 2.5, 'x', true, null]",
            serde_json::json!([1, 2.5, "x", true, null]),
        ),
        ("{'a': {'b': 1u}}", serde_json::json!({"a": {"b": 1}})),
        ("P.attr.level", serde_json::json!(3.0)),
        ("{1: 'one'}", serde_json::json!({"1": "one"})),
    ];
    for (source, want) in cases {
        assert_eq!(value_to_json(&eval(source).unwrap()), want, "{source}");
    }
}

#[test]
fn json_round_trip() {
    let json = serde_json::json!({"a": [1, "x", null, {"b": false}]});
    assert_eq!(
        value_to_json(&json_to_value(&json)),
        serde_json::json!({"a": [1.0, "x", null, {"b": false}]})
    );
}

#[test]
fn expressions_are_shareable() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Expr>();
}

#[test]
fn evaluation_speed() {
    let principal = principal();
    let resource = resource();
    let exprs: Vec<Expr> = [
        r#"R.attr.owner == P.id"#,
        r#""GB" in R.attr.geographies && P.attr.department == R.attr.department"#,
        r#"hierarchy(R.attr.scope).ancestorOf(hierarchy(P.attr.scope))"#,
    ]
    .iter()
    .map(|s| Expr::compile(s).unwrap())
    .collect();
    let rounds = 20_000;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        let request = RequestValues::new(&principal, &resource, None, now(), None);
        std::hint::black_box(&request);
    }
    let convert = start.elapsed() / rounds;
    let request = RequestValues::new(&principal, &resource, None, now(), None);
    let bindings = Bindings::new(&request);
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for expr in &exprs {
            assert!(expr.eval_bool(&bindings).unwrap());
        }
    }
    let evaluate = start.elapsed() / rounds / 3;
    // A timing print, not an assertion: the numbers depend on the machine and the profile.
    println!("request conversion: {convert:?}; one condition: {evaluate:?}");
}
