variable "repositories" {
  description = "Repository names keyed by service, e.g. { api = \"conveyor/api\" }."
  type        = map(string)

  validation {
    condition     = length(var.repositories) >= 1
    error_message = "repositories must name at least one repository."
  }
}

variable "keep_tagged_images" {
  description = "How many images the lifecycle policy keeps per repository (rollback reaches back this far)."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_tagged_images >= 1
    error_message = "keep_tagged_images must be at least 1, got ${var.keep_tagged_images}."
  }
}

variable "untagged_expiry_days" {
  type    = number
  default = 1
}

variable "force_delete" {
  description = "Let destroy remove repositories that still hold images (local and test worlds only)."
  type        = bool
  default     = false
}

variable "tags" {
  type    = map(string)
  default = {}
}
