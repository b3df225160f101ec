"""Who follows the account: follower records kept current from what WeChat tells us, and the
interests (categories) each follower asked about or booked."""
