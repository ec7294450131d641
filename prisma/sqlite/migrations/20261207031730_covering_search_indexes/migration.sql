-- A search checks each candidate resource against its criteria through these indexes: with the
-- compared columns in the index, that check reads no table row (FHIR search counts and pages
-- over a patient's compartment read a few hundred of them per request).

-- DropIndex
DROP INDEX "SearchToken_sandboxId_type_resourceId_param_idx";

-- DropIndex
DROP INDEX "SearchDate_sandboxId_type_resourceId_param_idx";

-- DropIndex
DROP INDEX "SearchReference_sandboxId_type_resourceId_param_idx";

-- CreateIndex
CREATE INDEX "SearchToken_sandboxId_type_resourceId_param_system_code_idx" ON "SearchToken"("sandboxId", "type", "resourceId", "param", "system", "code");

-- CreateIndex
CREATE INDEX "SearchDate_sandboxId_type_resourceId_param_start_end_idx" ON "SearchDate"("sandboxId", "type", "resourceId", "param", "start", "end");

-- CreateIndex
CREATE INDEX "SearchReference_sandboxId_type_resourceId_param_targetType_targetId_idx" ON "SearchReference"("sandboxId", "type", "resourceId", "param", "targetType", "targetId");
