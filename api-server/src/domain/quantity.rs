//! How many copies of a book one order line holds.

/// A quantity between [`Quantity::MIN`] and [`Quantity::MAX`], inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(i32);

impl Quantity {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 1000;

    pub fn new(n: i64) -> Result<Self, &'static str> {
        if (Self::MIN..=Self::MAX).contains(&n) {
            // In range, so it fits in an i32.
            Ok(Self(n as i32))
        } else {
            Err("must be between 1 and 1000")
        }
    }

    pub const fn get(self) -> i32 {
        self.0
    }
}

/// Decoding a stored quantity (see the `orders_quantity_check` constraint).
impl TryFrom<i32> for Quantity {
    type Error = String;

    fn try_from(n: i32) -> Result<Self, Self::Error> {
        Self::new(i64::from(n)).map_err(|why| format!("{n} {why}"))
    }
}

#[cfg(test)]
mod tests {
    use super::Quantity;

    #[test]
    fn accepts_the_inclusive_range() {
        assert_eq!(Quantity::new(1).map(Quantity::get), Ok(1));
        assert_eq!(Quantity::new(1000).map(Quantity::get), Ok(1000));
    }

    #[test]
    fn rejects_values_outside_the_range() {
        for n in [i64::MIN, -1, 0, 1001, i64::MAX] {
            assert!(Quantity::new(n).is_err(), "{n} was accepted");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::Quantity;

        proptest! {
            #[test]
            fn accepted_exactly_in_range_and_kept_as_given(n in any::<i64>()) {
                let quantity = Quantity::new(n);
                prop_assert_eq!(quantity.is_ok(), (1..=1000).contains(&n));
                if let Ok(quantity) = quantity {
                    prop_assert_eq!(i64::from(quantity.get()), n);
                }
            }

            #[test]
            fn every_quantity_in_range_is_accepted(n in Quantity::MIN..=Quantity::MAX) {
                prop_assert_eq!(Quantity::new(n).map(|q| i64::from(q.get())), Ok(n));
            }
        }
    }
}
