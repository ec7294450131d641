-- AlterTable
ALTER TABLE "Launch" ADD COLUMN     "consumedAt" TIMESTAMP(3);
