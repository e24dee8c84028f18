package codecalls

// iamPrefix maps an aws-sdk-go-v2 service package to its IAM prefix where
// the two differ.
var iamPrefix = map[string]string{
	"elasticloadbalancingv2": "elasticloadbalancing",
	"applicationautoscaling": "application-autoscaling",
	"cloudwatchlogs":         "logs",
	"sfn":                    "states",
	"eventbridge":            "events",
	"configservice":          "config",
	"costexplorer":           "ce",
}

// exceptions are operations authorised by an action with another name.
// Most operations need the action of the same name; these do not.
var exceptions = map[string][]string{
	"sqs:SendMessageBatch":                {"sqs:SendMessage"},
	"sqs:DeleteMessageBatch":              {"sqs:DeleteMessage"},
	"sqs:ChangeMessageVisibilityBatch":    {"sqs:ChangeMessageVisibility"},
	"s3:HeadObject":                       {"s3:GetObject"},
	"s3:HeadBucket":                       {"s3:ListBucket"},
	"s3:ListObjects":                      {"s3:ListBucket"},
	"s3:ListObjectsV2":                    {"s3:ListBucket"},
	"s3:ListObjectVersions":               {"s3:ListBucketVersions"},
	"s3:DeleteObjects":                    {"s3:DeleteObject"},
	"s3:CopyObject":                       {"s3:GetObject", "s3:PutObject"},
	"s3:CreateMultipartUpload":            {"s3:PutObject"},
	"s3:UploadPart":                       {"s3:PutObject"},
	"s3:CompleteMultipartUpload":          {"s3:PutObject"},
	"s3:AbortMultipartUpload":             {"s3:AbortMultipartUpload"},
	"s3:ListParts":                        {"s3:ListMultipartUploadParts"},
	"dynamodb:TransactGetItems":           {"dynamodb:GetItem"},
	"ecr:BatchDeleteImage":                {"ecr:BatchDeleteImage"},
	"sts:GetCallerIdentity":               {}, // needs no permission
	"lambda:Invoke":                       {"lambda:InvokeFunction"},
	"kms:GenerateDataKeyWithoutPlaintext": {"kms:GenerateDataKeyWithoutPlaintext"},
}

// Actions returns the IAM actions an SDK operation needs.
func Actions(sdkService, operation string) []string {
	pfx := sdkService
	if p, ok := iamPrefix[sdkService]; ok {
		pfx = p
	}
	key := pfx + ":" + operation
	if a, ok := exceptions[key]; ok {
		return a
	}
	return []string{key}
}
