"""failover: Routee-compatible multi-channel message failover on AWS Step Functions."""
