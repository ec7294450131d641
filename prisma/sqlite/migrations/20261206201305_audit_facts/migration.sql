-- AlterTable
ALTER TABLE "AuditRecord" ADD COLUMN "facts" TEXT;
