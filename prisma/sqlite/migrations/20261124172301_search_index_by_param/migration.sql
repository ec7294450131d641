-- DropIndex
DROP INDEX "SearchToken_sandboxId_type_resourceId_idx";

-- DropIndex
DROP INDEX "SearchString_sandboxId_type_resourceId_idx";

-- DropIndex
DROP INDEX "SearchDate_sandboxId_type_resourceId_idx";

-- DropIndex
DROP INDEX "SearchReference_sandboxId_type_resourceId_idx";

-- DropIndex
DROP INDEX "SearchQuantity_sandboxId_type_resourceId_idx";

-- CreateIndex
CREATE INDEX "SearchToken_sandboxId_type_resourceId_param_idx" ON "SearchToken"("sandboxId", "type", "resourceId", "param");

-- CreateIndex
CREATE INDEX "SearchString_sandboxId_type_resourceId_param_idx" ON "SearchString"("sandboxId", "type", "resourceId", "param");

-- CreateIndex
CREATE INDEX "SearchDate_sandboxId_type_resourceId_param_idx" ON "SearchDate"("sandboxId", "type", "resourceId", "param");

-- CreateIndex
CREATE INDEX "SearchReference_sandboxId_type_resourceId_param_idx" ON "SearchReference"("sandboxId", "type", "resourceId", "param");

-- CreateIndex
CREATE INDEX "SearchQuantity_sandboxId_type_resourceId_param_idx" ON "SearchQuantity"("sandboxId", "type", "resourceId", "param");
