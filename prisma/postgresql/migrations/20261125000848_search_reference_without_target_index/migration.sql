-- DropIndex
DROP INDEX "SearchReference_sandboxId_targetType_targetId_idx";
