-- AlterTable
ALTER TABLE "Launch" ADD COLUMN "consumedAt" DATETIME;
