//! What the current state of a resource must be for a change to go ahead.

use std::fmt;

/// A condition on the current state of a resource that a change (or a deletion) requires:
/// "it is still as I last read it". The repository checks it and writes in one atomic
/// step, so that of two changes made from the same reading only one goes ahead.
///
/// [`Precondition::none`] is the change made whatever the state: what a request without
/// a condition asks for.
pub struct Precondition<T>(Option<Check<T>>);

/// Whether a state meets the condition.
type Check<T> = Box<dyn Fn(&T) -> bool + Send + Sync>;

impl<T> Precondition<T> {
    /// No condition: the change goes ahead whatever the state.
    pub fn none() -> Self {
        Self(None)
    }

    /// The change goes ahead only if `holds` says yes of the current state.
    pub fn new(holds: impl Fn(&T) -> bool + Send + Sync + 'static) -> Self {
        Self(Some(Box::new(holds)))
    }

    /// Whether there is a condition to check.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Whether `current` meets the condition (always, when there is none).
    pub fn holds(&self, current: &T) -> bool {
        self.0.as_ref().is_none_or(|holds| holds(current))
    }
}

impl<T> Default for Precondition<T> {
    fn default() -> Self {
        Self::none()
    }
}

impl<T> fmt::Debug for Precondition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() {
            "Precondition(set)"
        } else {
            "Precondition(none)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Precondition;

    #[test]
    fn no_condition_always_holds_and_a_condition_decides() {
        let none = Precondition::<u32>::none();
        assert!(!none.is_set() && none.holds(&7));
        let even = Precondition::new(|n: &u32| n.is_multiple_of(2));
        assert!(even.is_set() && even.holds(&8) && !even.holds(&7));
    }
}
