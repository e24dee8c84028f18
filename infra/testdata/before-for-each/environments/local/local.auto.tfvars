# What the local world sets differently from production. The first block is
# the throw-away nature of a test world; the second is where moto lacks a
# feature, one comment per difference.

environment               = "local"
table_deletion_protection = false # destroy must succeed
ecr_force_delete          = true  # destroy must succeed

# moto 5.2.1 does not implement Application Auto Scaling's
# ListTagsForResource, which the aws provider calls after creating a scalable
# target, so targets, step policies and alarms are left out here. The Go test
# checks them in the plan instead (infra_test.go).
enable_autoscaling = false
