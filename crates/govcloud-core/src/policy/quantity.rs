//! Kubernetes quantities (`32`, `500m`, `128Gi`, `2Ti`, `1.5e3`) and money, as exact
//! decimals. Amounts are validated here, not by the schema, because an int-or-string field
//! cannot carry a pattern on a 1.20 API server; every error names the field.

use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::api::ResourceAmounts;

/// A field that could not be used, with its path (`spec.resources.cpu`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The path of the field, e.g. `spec.resources.memory`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// An error on `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The largest amount accepted for any resource (in base units): beyond any real pool.
/// It does NOT keep cost arithmetic in range: prices have no upper bound in the schema
/// beyond 12 digits, and `1E` CPUs at 80 billion a vCPU already exceed the largest
/// decimal (about 7.9e28). Every product and sum of amounts and prices is therefore
/// checked ([`Amounts::monthly_cost`]), so an absurd amount is a field error, never a
/// panic (issue 14).
fn max_amount() -> Decimal {
    Decimal::from(1u64 << 60) // 1 EiB
}

/// Parses a quantity into base units (cores, bytes, counts).
pub fn parse_quantity(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty quantity".into());
    }
    if t.starts_with('-') {
        return Err(format!("{text:?} is negative"));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(split);
    let number = number.strip_prefix('+').unwrap_or(number);
    if number.is_empty()
        || number.chars().filter(|c| *c == '.').count() > 1
        || !number.bytes().any(|b| b.is_ascii_digit())
    {
        return Err(format!(
            "{text:?} is not a quantity (e.g. 32, 500m, 128Gi, 2Ti)"
        ));
    }
    let value = Decimal::from_str(number).map_err(|_| format!("{text:?} is not a quantity"))?;
    let factor: Decimal = match suffix {
        "" => Decimal::ONE,
        "m" => Decimal::new(1, 3),
        "k" => Decimal::from(1_000u64),
        "M" => Decimal::from(1_000_000u64),
        "G" => Decimal::from(1_000_000_000u64),
        "T" => Decimal::from(1_000_000_000_000u64),
        "P" => Decimal::from(1_000_000_000_000_000u64),
        "E" => Decimal::from(1_000_000_000_000_000_000u64),
        "Ki" => Decimal::from(1u64 << 10),
        "Mi" => Decimal::from(1u64 << 20),
        "Gi" => Decimal::from(1u64 << 30),
        "Ti" => Decimal::from(1u64 << 40),
        "Pi" => Decimal::from(1u64 << 50),
        "Ei" => Decimal::from(1u64 << 60),
        s if s.starts_with(['e', 'E']) => {
            let exp: u32 = s[1..]
                .parse()
                .map_err(|_| format!("{text:?} has a bad exponent"))?;
            if exp > 18 {
                return Err(format!("{text:?} is too large"));
            }
            Decimal::from(10u64.pow(exp))
        }
        _ => {
            return Err(format!(
                "{text:?} has an unknown suffix {suffix:?} (use m, k, M, G, T, Ki, Mi, Gi, Ti, ...)"
            ));
        }
    };
    let amount = value
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if amount > max_amount() {
        return Err(format!("{text:?} is too large"));
    }
    Ok(amount.normalize())
}

/// Parses an int-or-string quantity field.
pub fn parse_field(field: &str, value: &IntOrString) -> Result<Decimal, FieldError> {
    match value {
        IntOrString::Int(i) if *i < 0 => Err(FieldError::new(field, format!("{i} is negative"))),
        IntOrString::Int(i) => Ok(Decimal::from(*i)),
        IntOrString::String(s) => parse_quantity(s).map_err(|m| FieldError::new(field, m)),
    }
}

/// A percentage string (`15%`) as a ratio (`0.15`).
pub fn parse_percent(field: &str, text: &str) -> Result<Decimal, FieldError> {
    let number = text.trim().strip_suffix('%').ok_or_else(|| {
        FieldError::new(
            field,
            format!("{text:?} is not a percentage (e.g. \"15%\")"),
        )
    })?;
    let value = Decimal::from_str(number).map_err(|_| {
        FieldError::new(
            field,
            format!("{text:?} is not a percentage (e.g. \"15%\")"),
        )
    })?;
    if value.is_sign_negative() {
        return Err(FieldError::new(field, format!("{text:?} is negative")));
    }
    Ok(value / Decimal::ONE_HUNDRED)
}

/// A money or price string (`100000`, `0.40`).
pub fn parse_money(field: &str, text: &str) -> Result<Decimal, FieldError> {
    let value = Decimal::from_str(text.trim()).map_err(|_| {
        FieldError::new(
            field,
            format!("{text:?} is not an amount of money (e.g. \"60\" or \"0.40\")"),
        )
    })?;
    if value.is_sign_negative() {
        return Err(FieldError::new(field, format!("{text:?} is negative")));
    }
    Ok(value)
}

/// Money as the API shows it: two decimals, half away from zero.
pub fn format_money(value: Decimal) -> String {
    let v = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    format!("{v:.2}")
}

/// A ratio as the API shows it: two decimals.
pub fn format_ratio(value: Decimal) -> String {
    format_money(value)
}

/// One kind of cloud resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Cpu,
    Memory,
    Storage,
    Gpu,
    LoadBalancers,
    PublicIps,
}

impl ResourceKind {
    /// Every kind, in manifest order.
    pub const ALL: [ResourceKind; 6] = [
        ResourceKind::Cpu,
        ResourceKind::Memory,
        ResourceKind::Storage,
        ResourceKind::Gpu,
        ResourceKind::LoadBalancers,
        ResourceKind::PublicIps,
    ];

    /// The key in manifests.
    pub fn key(self) -> &'static str {
        match self {
            ResourceKind::Cpu => "cpu",
            ResourceKind::Memory => "memory",
            ResourceKind::Storage => "storage",
            ResourceKind::Gpu => "gpu",
            ResourceKind::LoadBalancers => "loadBalancers",
            ResourceKind::PublicIps => "publicIPs",
        }
    }

    /// Whether the kind counts whole things.
    pub fn is_countable(self) -> bool {
        matches!(
            self,
            ResourceKind::Gpu | ResourceKind::LoadBalancers | ResourceKind::PublicIps
        )
    }

    /// Base units per priced unit: memory and storage are priced per GiB.
    pub fn price_unit(self) -> Decimal {
        match self {
            ResourceKind::Memory | ResourceKind::Storage => Decimal::from(1u64 << 30),
            _ => Decimal::ONE,
        }
    }

    fn get(self, a: &ResourceAmounts) -> Option<&IntOrString> {
        match self {
            ResourceKind::Cpu => a.cpu.as_ref(),
            ResourceKind::Memory => a.memory.as_ref(),
            ResourceKind::Storage => a.storage.as_ref(),
            ResourceKind::Gpu => a.gpu.as_ref(),
            ResourceKind::LoadBalancers => a.load_balancers.as_ref(),
            ResourceKind::PublicIps => a.public_ips.as_ref(),
        }
    }

    fn slot(self, a: &mut ResourceAmounts) -> &mut Option<IntOrString> {
        match self {
            ResourceKind::Cpu => &mut a.cpu,
            ResourceKind::Memory => &mut a.memory,
            ResourceKind::Storage => &mut a.storage,
            ResourceKind::Gpu => &mut a.gpu,
            ResourceKind::LoadBalancers => &mut a.load_balancers,
            ResourceKind::PublicIps => &mut a.public_ips,
        }
    }
}

/// A monthly cost beyond any amount of money: the amount of this kind at its price (or the
/// total once it is added) exceeds the largest decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostOverflow(pub ResourceKind);

impl CostOverflow {
    /// The error on `{prefix}.{kind}` (`spec.resources.cpu`), naming the policy's price.
    pub fn field_error(self, prefix: &str, policy: &str) -> FieldError {
        let key = self.0.key();
        FieldError::new(
            format!("{prefix}.{key}"),
            format!(
                "at the price spec.prices.{key} of policy {policy:?} the monthly cost is beyond any amount of money: ask for less, or correct the price"
            ),
        )
    }
}

/// Parsed amounts in base units; a kind left out is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amounts(pub [Option<Decimal>; 6]);

impl Amounts {
    /// Parses every present field of `a`, naming `prefix.key` in errors.
    pub fn parse(prefix: &str, a: &ResourceAmounts) -> Result<Amounts, Vec<FieldError>> {
        let mut out = Amounts::default();
        let mut errors = Vec::new();
        for (i, kind) in ResourceKind::ALL.into_iter().enumerate() {
            let Some(v) = kind.get(a) else { continue };
            let field = format!("{prefix}.{}", kind.key());
            match parse_field(&field, v) {
                Ok(d) if kind.is_countable() && !d.fract().is_zero() => {
                    errors.push(FieldError::new(field, format!("{d} is not a whole number")))
                }
                Ok(d) => out.0[i] = Some(d),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The amount of `kind`, zero when absent.
    pub fn get(&self, kind: ResourceKind) -> Decimal {
        self.0[kind as usize].unwrap_or(Decimal::ZERO)
    }

    /// Whether `kind` was given.
    pub fn has(&self, kind: ResourceKind) -> bool {
        self.0[kind as usize].is_some()
    }

    /// `self` with every kind given in `changes` replaced (a ResourceChange).
    pub fn overlay(&self, changes: &Amounts) -> Amounts {
        let mut out = self.clone();
        for (i, c) in changes.0.iter().enumerate() {
            if c.is_some() {
                out.0[i] = *c;
            }
        }
        out
    }

    /// Adds `other` kind by kind (absent counts as zero; present in either stays present).
    /// A sum beyond the largest decimal saturates: it is compared with capacities, and a
    /// saturated total exceeds every one of them, which is the right answer (issue 14).
    pub fn plus(&self, other: &Amounts) -> Amounts {
        let mut out = Amounts::default();
        for i in 0..6 {
            out.0[i] = match (self.0[i], other.0[i]) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or_default().saturating_add(b.unwrap_or_default())),
            };
        }
        out
    }

    /// Kinds where `self` exceeds `limit` (only kinds the limit names).
    pub fn exceeding(&self, limit: &Amounts) -> Vec<ResourceKind> {
        ResourceKind::ALL
            .into_iter()
            .filter(|k| limit.has(*k) && self.get(*k) > limit.get(*k))
            .collect()
    }

    /// Whether no kind is larger than in `before` (a scale-down or no change).
    pub fn is_within(&self, before: &Amounts) -> bool {
        ResourceKind::ALL
            .into_iter()
            .all(|k| self.get(k) <= before.get(k))
    }

    /// Monthly cost at `prices` (per priced unit). Checked: an amount at a price whose
    /// cost (or the running total) exceeds the largest decimal names that kind, for the
    /// caller to report as a field error (issue 14).
    pub fn monthly_cost(&self, prices: &[Decimal; 6]) -> Result<Decimal, CostOverflow> {
        let mut total = Decimal::ZERO;
        for k in ResourceKind::ALL {
            total = (self.get(k) / k.price_unit())
                .checked_mul(prices[k as usize])
                .and_then(|cost| total.checked_add(cost))
                .ok_or(CostOverflow(k))?;
        }
        Ok(total)
    }

    /// Back to API form with canonical strings (`128Gi`, `32`, `500m`).
    pub fn to_api(&self) -> ResourceAmounts {
        let mut out = ResourceAmounts::default();
        for kind in ResourceKind::ALL {
            if let Some(v) = self.0[kind as usize] {
                *kind.slot(&mut out) = Some(IntOrString::String(format_quantity(kind, v)));
            }
        }
        out
    }
}

/// A canonical quantity string: binary suffixes for memory and storage when exact, milli
/// for fractional CPU.
pub fn format_quantity(kind: ResourceKind, v: Decimal) -> String {
    if matches!(kind, ResourceKind::Memory | ResourceKind::Storage) {
        for (suffix, shift) in [
            ("Ei", 60),
            ("Pi", 50),
            ("Ti", 40),
            ("Gi", 30),
            ("Mi", 20),
            ("Ki", 10),
        ] {
            let unit = Decimal::from(1u64 << shift);
            if !v.is_zero() && (v % unit).is_zero() {
                return format!("{}{suffix}", (v / unit).normalize());
            }
        }
    }
    if v.fract().is_zero() {
        format!("{}", v.normalize())
    } else {
        match v.checked_mul(Decimal::from(1000)) {
            Some(milli) => format!("{}m", milli.round().normalize()),
            // Too large for milli-units: the plain decimal is still a valid quantity.
            None => format!("{}", v.normalize()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Decimal {
        parse_quantity(s).expect(s)
    }

    #[test]
    fn parses_kubernetes_quantities() {
        assert_eq!(q("32"), Decimal::from(32));
        assert_eq!(q("500m"), Decimal::new(5, 1));
        assert_eq!(q("128Gi"), Decimal::from(128u64 << 30));
        assert_eq!(q("2Ti"), Decimal::from(2u64 << 40));
        assert_eq!(q("1.5Gi"), Decimal::from(3u64 << 29));
        assert_eq!(q("1e3"), Decimal::from(1000));
        assert_eq!(q("2k"), Decimal::from(2000));
    }

    #[test]
    fn refuses_bad_quantities_with_a_reason() {
        for bad in [
            "", "-1", "abc", "12 Gi", "1.2.3", "5Zi", "1e40", "2Ei0", ".",
        ] {
            assert!(parse_quantity(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_quantity("9Ei").is_err(), "absurd amounts are refused");
    }

    #[test]
    fn field_errors_name_the_field() {
        let a = ResourceAmounts {
            cpu: Some(IntOrString::String("lots".into())),
            gpu: Some(IntOrString::String("1.5".into())),
            ..Default::default()
        };
        let errs = Amounts::parse("spec.resources", &a).unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].field, "spec.resources.cpu");
        assert_eq!(errs[1].field, "spec.resources.gpu");
        assert!(errs[1].message.contains("whole number"));
    }

    #[test]
    fn cost_is_priced_per_gib_and_rounded_to_cents() {
        let a = Amounts::parse(
            "r",
            &ResourceAmounts {
                cpu: Some(IntOrString::String("32".into())),
                memory: Some(IntOrString::String("128Gi".into())),
                storage: Some(IntOrString::String("2Ti".into())),
                gpu: Some(IntOrString::Int(0)),
                load_balancers: Some(IntOrString::Int(1)),
                public_ips: Some(IntOrString::Int(1)),
            },
        )
        .unwrap();
        let prices = [60, 15, 0, 2500, 300, 100].map(Decimal::from);
        let mut prices = prices;
        prices[2] = Decimal::new(40, 2);
        // 32*60 + 128*15 + 2048*0.40 + 0 + 300 + 100 = 1920 + 1920 + 819.2 + 400
        assert_eq!(format_money(a.monthly_cost(&prices).unwrap()), "5059.20");
    }

    #[test]
    fn canonical_strings_round_trip() {
        for (kind, s) in [
            (ResourceKind::Memory, "128Gi"),
            (ResourceKind::Cpu, "500m"),
            (ResourceKind::Cpu, "32"),
            (ResourceKind::Storage, "2Ti"),
        ] {
            assert_eq!(format_quantity(kind, q(s)), s);
        }
        assert_eq!(format_money(Decimal::new(12345, 1)), "1234.50");
        assert_eq!(format_money(Decimal::new(5, 3)), "0.01");
    }
}
