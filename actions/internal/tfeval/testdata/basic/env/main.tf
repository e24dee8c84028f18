module "data" {
  source = "../modules/data"
  name   = "conveyor"
}

module "api" {
  source = "../modules/svc"
  name   = "conveyor-api"
  task_role_statements = [
    {
      sid       = "Table"
      actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
      resources = [module.data.table_arn]
    },
    {
      sid       = "Queue"
      actions   = ["sqs:SendMessage"]
      resources = [module.data.queue_arn]
    },
  ]
}
