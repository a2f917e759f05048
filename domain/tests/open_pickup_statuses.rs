//! The two lists of a pickup request's open statuses must not drift apart: the phone limit counts
//! what the pickup worklist shows.

#[test]
fn the_phone_limit_and_the_pickup_worklist_count_the_same_open_statuses() {
    assert_eq!(
        domain::lifecycle::OPEN_PICKUP_STATUSES,
        domain::ops::postal::OPEN_PICKUP_STATUSES
    );
}
