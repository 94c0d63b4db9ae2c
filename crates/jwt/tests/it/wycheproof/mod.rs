//! Project Wycheproof (C2SP/wycheproof `testvectors_v1/`): the signature and MAC primitives under
//! each JWS algorithm, and the JOSE files end to end.

mod jose;
mod primitives;

use serde_json::Value;

/// One Wycheproof file, after checking that its groups hold as many tests as it announces (so a
/// truncated file cannot pass as a short one).
fn testvectors(file: &str) -> Value {
    let data = crate::load(&format!("wycheproof/testvectors_v1/{file}"));
    let announced = data["numberOfTests"].as_u64().unwrap();
    let present: usize = groups(&data)
        .iter()
        .map(|g| g["tests"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        present as u64, announced,
        "{file}: numberOfTests disagrees with the tests present"
    );
    data
}

fn groups(data: &Value) -> &[Value] {
    data["testGroups"].as_array().unwrap()
}
