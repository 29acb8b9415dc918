CREATE TABLE "price_versions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"price_id" uuid NOT NULL,
	"version" integer NOT NULL,
	"extra_metadata" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "prices" (
	"id" uuid PRIMARY KEY NOT NULL,
	"product_id" uuid NOT NULL,
	"unit_amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"price_type" text NOT NULL,
	"billing_interval" text,
	"billing_interval_count" integer,
	"trial_period_days" integer,
	"lookup_key" text,
	"nickname" text,
	"stripe_price_id" text,
	"is_active" boolean DEFAULT true NOT NULL,
	"extra_metadata" jsonb DEFAULT '{"entitlements":[]}'::jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"replaces_price_id" uuid,
	"stripe_as_of" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "products" (
	"id" uuid PRIMARY KEY NOT NULL,
	"key" text,
	"name" text NOT NULL,
	"description" text,
	"product_type" text NOT NULL,
	"tier_id" uuid,
	"grants_tier_id" uuid,
	"credit_amount" bigint,
	"credit_type" text,
	"feature_access" jsonb,
	"access_duration_days" integer,
	"requires_subscription" boolean DEFAULT false NOT NULL,
	"requires_tier_id" uuid,
	"is_active" boolean DEFAULT true NOT NULL,
	"stripe_product_id" text,
	"stripe_as_of" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tiers" (
	"id" uuid PRIMARY KEY NOT NULL,
	"key" text NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"rank" integer DEFAULT 0 NOT NULL,
	"features" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"limits" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stripe_events" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"api_version" text,
	"livemode" boolean DEFAULT false NOT NULL,
	"created" timestamp with time zone NOT NULL,
	"payload" jsonb NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"handled_at" timestamp with time zone,
	"ignored" boolean DEFAULT false NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"last_error_at" timestamp with time zone,
	"last_attempt_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "credit_balances" (
	"user_id" uuid NOT NULL,
	"credit_type" text NOT NULL,
	"balance" bigint DEFAULT 0 NOT NULL,
	"reserved" bigint DEFAULT 0 NOT NULL,
	"debt" bigint DEFAULT 0 NOT NULL,
	"used" bigint DEFAULT 0 NOT NULL,
	"seq" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "credit_balances_user_id_credit_type_pk" PRIMARY KEY("user_id","credit_type"),
	CONSTRAINT "credit_balances_reserved_ck" CHECK ("credit_balances"."reserved" >= 0),
	CONSTRAINT "credit_balances_debt_ck" CHECK ("credit_balances"."debt" >= 0 and "credit_balances"."balance" >= -"credit_balances"."debt")
);
--> statement-breakpoint
CREATE TABLE "credit_grants" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"credit_type" text NOT NULL,
	"pool" text NOT NULL,
	"amount" bigint NOT NULL,
	"remaining" bigint NOT NULL,
	"expires_at" timestamp with time zone,
	"source_type" text NOT NULL,
	"source_id" text,
	"reference_id" text,
	"cost_microcents" bigint,
	"description" text,
	"granted_by" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"expired_at" timestamp with time zone,
	CONSTRAINT "credit_grants_amount_ck" CHECK ("credit_grants"."amount" > 0 and "credit_grants"."remaining" >= 0 and "credit_grants"."remaining" <= "credit_grants"."amount")
);
--> statement-breakpoint
CREATE TABLE "credit_reservations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"credit_type" text NOT NULL,
	"amount" bigint NOT NULL,
	"committed_amount" bigint,
	"status" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"idempotency_key" text NOT NULL,
	"description" text,
	"allocations" jsonb NOT NULL,
	"reserve_transaction_id" uuid NOT NULL,
	"usage_transaction_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	"settled_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "credit_transactions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"credit_type" text NOT NULL,
	"seq" bigint NOT NULL,
	"type" text NOT NULL,
	"amount" bigint NOT NULL,
	"balance_before" bigint NOT NULL,
	"balance_after" bigint NOT NULL,
	"description" text,
	"reference_id" text,
	"idempotency_key" text,
	"source_key" text,
	"grant_id" uuid,
	"reservation_id" uuid,
	"pool" text,
	"allocations" jsonb,
	"actor_id" uuid,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "credit_transactions_chain_ck" CHECK ("credit_transactions"."balance_after" = "credit_transactions"."balance_before" + "credit_transactions"."amount")
);
--> statement-breakpoint
CREATE TABLE "job_runs" (
	"id" uuid PRIMARY KEY NOT NULL,
	"job" text NOT NULL,
	"slot" timestamp with time zone NOT NULL,
	"trigger" text NOT NULL,
	"status" text NOT NULL,
	"business_time" timestamp with time zone NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"duration_ms" integer,
	"processed" integer,
	"error" text,
	"instance" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "discount_codes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"code" text NOT NULL,
	"discount_type" text NOT NULL,
	"discount_value" bigint NOT NULL,
	"currency" text,
	"duration" text NOT NULL,
	"duration_in_months" integer,
	"scope" text NOT NULL,
	"price_ids" uuid[],
	"max_uses" integer,
	"max_uses_per_user" integer DEFAULT 1,
	"current_uses" integer DEFAULT 0 NOT NULL,
	"expires_at" timestamp with time zone,
	"is_active" boolean DEFAULT true NOT NULL,
	"stripe_coupon_id" text,
	"stripe_promotion_code_id" text,
	"retired_promotion_code_ids" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "discount_codes_value_ck" CHECK ("discount_codes"."discount_value" > 0 and ("discount_codes"."discount_type" <> 'percentage' or "discount_codes"."discount_value" <= 100)),
	CONSTRAINT "discount_codes_currency_ck" CHECK (("discount_codes"."discount_type" = 'fixed_amount') = ("discount_codes"."currency" is not null)),
	CONSTRAINT "discount_codes_months_ck" CHECK (("discount_codes"."duration" = 'repeating') = ("discount_codes"."duration_in_months" is not null) and coalesce("discount_codes"."duration_in_months", 1) > 0),
	CONSTRAINT "discount_codes_max_uses_ck" CHECK ("discount_codes"."max_uses" is null or "discount_codes"."max_uses" > 0),
	CONSTRAINT "discount_codes_per_user_ck" CHECK ("discount_codes"."max_uses_per_user" is null or "discount_codes"."max_uses_per_user" > 0),
	CONSTRAINT "discount_codes_current_uses_ck" CHECK ("discount_codes"."current_uses" >= 0)
);
--> statement-breakpoint
CREATE TABLE "discount_redemptions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"code_id" uuid NOT NULL,
	"user_id" uuid,
	"payment_id" uuid,
	"stripe_subscription_id" text,
	"stripe_checkout_session_id" text,
	"amount_discounted" bigint DEFAULT 0 NOT NULL,
	"currency" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "discount_redemptions_amount_ck" CHECK ("discount_redemptions"."amount_discounted" >= 0)
);
--> statement-breakpoint
CREATE TABLE "discount_reservations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"code_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"price_id" uuid NOT NULL,
	"stripe_checkout_session_id" text,
	"status" text DEFAULT 'held' NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"released_at" timestamp with time zone,
	"redeemed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "subscription_discount_cycles" (
	"subscription_discount_id" uuid NOT NULL,
	"stripe_invoice_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subscription_discounts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"stripe_subscription_id" text NOT NULL,
	"code_id" uuid NOT NULL,
	"redemption_id" uuid,
	"cycles_applied" integer DEFAULT 0 NOT NULL,
	"max_cycles" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "entitlement_usage" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"key" text NOT NULL,
	"amount" bigint NOT NULL,
	"idempotency_key" text,
	"allocations" jsonb NOT NULL,
	"description" text,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "entitlements" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"type" text NOT NULL,
	"grant_reason" text NOT NULL,
	"feature" text,
	"tier_key" text,
	"product_id" text,
	"credit_type" text,
	"subscription_id" text,
	"quantity_granted" bigint,
	"quantity_used" bigint DEFAULT 0 NOT NULL,
	"consumption_type" text DEFAULT 'none' NOT NULL,
	"period_start" timestamp with time zone,
	"period_end" timestamp with time zone,
	"granted_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone,
	"reference_id" text,
	"source_key" text,
	"item_index" integer DEFAULT 0 NOT NULL,
	"payment_id" text,
	"stripe_event_id" text,
	"price_id" text,
	"price_version" integer,
	"credit_bucket_id" uuid,
	"cost_microcents" bigint,
	"granted_by" uuid,
	"notes" text,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoke_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "entitlements_quantity_ck" CHECK (("entitlements"."quantity_granted" is null or "entitlements"."quantity_granted" >= 0) and "entitlements"."quantity_used" >= 0),
	CONSTRAINT "entitlements_window_ck" CHECK ("entitlements"."expires_at" is null or "entitlements"."expires_at" > "entitlements"."granted_at")
);
--> statement-breakpoint
CREATE TABLE "payment_disputes" (
	"id" uuid PRIMARY KEY NOT NULL,
	"payment_id" uuid NOT NULL,
	"stripe_dispute_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"revoked_at" timestamp with time zone,
	"restored_at" timestamp with time zone,
	"revoked_grants" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment_refunds" (
	"id" uuid PRIMARY KEY NOT NULL,
	"payment_id" uuid NOT NULL,
	"stripe_refund_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"credits_clawed_back" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"price_id" uuid,
	"subscription_id" uuid,
	"kind" text NOT NULL,
	"mode" text,
	"status" text DEFAULT 'pending' NOT NULL,
	"amount" bigint DEFAULT 0 NOT NULL,
	"amount_subtotal" bigint,
	"amount_discount" bigint DEFAULT 0 NOT NULL,
	"amount_refunded" bigint DEFAULT 0 NOT NULL,
	"currency" text NOT NULL,
	"quantity" integer DEFAULT 1 NOT NULL,
	"discount_code_id" uuid,
	"stripe_checkout_session_id" text,
	"stripe_invoice_id" text,
	"stripe_payment_intent_id" text,
	"stripe_charge_id" text,
	"stripe_subscription_id" text,
	"stripe_customer_id" text,
	"session_expires_at" timestamp with time zone,
	"dispute_status" text,
	"failure_reason" text,
	"note" text,
	"paid_at" timestamp with time zone,
	"fulfilled_at" timestamp with time zone,
	"metadata" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subscription_allowances" (
	"id" uuid PRIMARY KEY NOT NULL,
	"subscription_id" uuid NOT NULL,
	"price_id" uuid NOT NULL,
	"period_start" timestamp with time zone NOT NULL,
	"period_end" timestamp with time zone NOT NULL,
	"credit_type" text NOT NULL,
	"status" text NOT NULL,
	"granted" bigint DEFAULT 0 NOT NULL,
	"closed_remaining" bigint DEFAULT 0 NOT NULL,
	"reopen_count" integer DEFAULT 0 NOT NULL,
	"entitlement_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"bucket_ids" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"origin" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subscriptions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"price_id" uuid,
	"stripe_subscription_id" text NOT NULL,
	"stripe_customer_id" text NOT NULL,
	"status" text NOT NULL,
	"quantity" integer DEFAULT 1 NOT NULL,
	"currency" text,
	"current_period_start" timestamp with time zone,
	"current_period_end" timestamp with time zone,
	"cancel_at_period_end" boolean DEFAULT false NOT NULL,
	"cancel_at" timestamp with time zone,
	"canceled_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"trial_start" timestamp with time zone,
	"trial_end" timestamp with time zone,
	"trial_will_end_at" timestamp with time zone,
	"latest_invoice_id" text,
	"past_due_since" timestamp with time zone,
	"access_price_id" uuid,
	"access_epoch" integer DEFAULT 0 NOT NULL,
	"access_revoked_reason" text,
	"scheduled_price_id" uuid,
	"scheduled_change_at" timestamp with time zone,
	"stripe_schedule_id" text,
	"end_policy_applied_at" timestamp with time zone,
	"stripe_synced_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_cursors" (
	"name" text PRIMARY KEY NOT NULL,
	"events_created_at" timestamp with time zone NOT NULL,
	"last_event_id" text,
	"synced_at" timestamp with time zone NOT NULL,
	"events_seen" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "price_versions" ADD CONSTRAINT "price_versions_price_id_prices_id_fk" FOREIGN KEY ("price_id") REFERENCES "public"."prices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prices" ADD CONSTRAINT "prices_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "public"."products"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_tier_id_tiers_id_fk" FOREIGN KEY ("tier_id") REFERENCES "public"."tiers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_grants_tier_id_tiers_id_fk" FOREIGN KEY ("grants_tier_id") REFERENCES "public"."tiers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "products" ADD CONSTRAINT "products_requires_tier_id_tiers_id_fk" FOREIGN KEY ("requires_tier_id") REFERENCES "public"."tiers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credit_balances" ADD CONSTRAINT "credit_balances_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credit_grants" ADD CONSTRAINT "credit_grants_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credit_reservations" ADD CONSTRAINT "credit_reservations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "discount_redemptions" ADD CONSTRAINT "discount_redemptions_code_id_discount_codes_id_fk" FOREIGN KEY ("code_id") REFERENCES "public"."discount_codes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "discount_redemptions" ADD CONSTRAINT "discount_redemptions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "discount_reservations" ADD CONSTRAINT "discount_reservations_code_id_discount_codes_id_fk" FOREIGN KEY ("code_id") REFERENCES "public"."discount_codes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "discount_reservations" ADD CONSTRAINT "discount_reservations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_discount_cycles" ADD CONSTRAINT "subscription_discount_cycles_subscription_discount_id_subscription_discounts_id_fk" FOREIGN KEY ("subscription_discount_id") REFERENCES "public"."subscription_discounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_discounts" ADD CONSTRAINT "subscription_discounts_code_id_discount_codes_id_fk" FOREIGN KEY ("code_id") REFERENCES "public"."discount_codes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_discounts" ADD CONSTRAINT "subscription_discounts_redemption_id_discount_redemptions_id_fk" FOREIGN KEY ("redemption_id") REFERENCES "public"."discount_redemptions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "entitlement_usage" ADD CONSTRAINT "entitlement_usage_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "entitlements" ADD CONSTRAINT "entitlements_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_disputes" ADD CONSTRAINT "payment_disputes_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payment_refunds" ADD CONSTRAINT "payment_refunds_payment_id_payments_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscription_allowances" ADD CONSTRAINT "subscription_allowances_subscription_id_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."subscriptions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD CONSTRAINT "subscriptions_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "price_versions_price_version_uq" ON "price_versions" USING btree ("price_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "prices_stripe_price_uq" ON "prices" USING btree ("stripe_price_id");--> statement-breakpoint
CREATE UNIQUE INDEX "prices_lookup_key_active_uq" ON "prices" USING btree ("lookup_key") WHERE "prices"."is_active" and "prices"."lookup_key" is not null;--> statement-breakpoint
CREATE INDEX "prices_product_idx" ON "prices" USING btree ("product_id");--> statement-breakpoint
CREATE UNIQUE INDEX "products_stripe_product_uq" ON "products" USING btree ("stripe_product_id");--> statement-breakpoint
CREATE UNIQUE INDEX "products_key_uq" ON "products" USING btree ("key");--> statement-breakpoint
CREATE UNIQUE INDEX "tiers_key_uq" ON "tiers" USING btree ("key");--> statement-breakpoint
CREATE INDEX "stripe_events_type_idx" ON "stripe_events" USING btree ("type");--> statement-breakpoint
CREATE INDEX "stripe_events_received_idx" ON "stripe_events" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "stripe_events_unhandled_idx" ON "stripe_events" USING btree ("received_at") WHERE "stripe_events"."handled_at" is null;--> statement-breakpoint
CREATE INDEX "credit_grants_account_idx" ON "credit_grants" USING btree ("user_id","credit_type");--> statement-breakpoint
CREATE INDEX "credit_grants_due_idx" ON "credit_grants" USING btree ("expires_at") WHERE "credit_grants"."expired_at" is null;--> statement-breakpoint
CREATE INDEX "credit_grants_reference_idx" ON "credit_grants" USING btree ("reference_id");--> statement-breakpoint
CREATE INDEX "credit_reservations_held_idx" ON "credit_reservations" USING btree ("expires_at") WHERE "credit_reservations"."status" = 'held';--> statement-breakpoint
CREATE INDEX "credit_reservations_user_idx" ON "credit_reservations" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "credit_transactions_seq_uq" ON "credit_transactions" USING btree ("user_id","credit_type","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "credit_transactions_idempotency_uq" ON "credit_transactions" USING btree ("user_id","idempotency_key") WHERE "credit_transactions"."idempotency_key" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "credit_transactions_source_key_uq" ON "credit_transactions" USING btree ("source_key") WHERE "credit_transactions"."source_key" is not null;--> statement-breakpoint
CREATE INDEX "credit_transactions_user_time_idx" ON "credit_transactions" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "credit_transactions_reference_idx" ON "credit_transactions" USING btree ("reference_id") WHERE "credit_transactions"."reference_id" is not null;--> statement-breakpoint
CREATE INDEX "credit_transactions_grant_idx" ON "credit_transactions" USING btree ("grant_id") WHERE "credit_transactions"."grant_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "job_runs_slot_uq" ON "job_runs" USING btree ("job","slot");--> statement-breakpoint
CREATE INDEX "job_runs_started_idx" ON "job_runs" USING btree ("started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "discount_codes_code_uq" ON "discount_codes" USING btree (lower("code"));--> statement-breakpoint
CREATE UNIQUE INDEX "discount_codes_stripe_coupon_uq" ON "discount_codes" USING btree ("stripe_coupon_id");--> statement-breakpoint
CREATE UNIQUE INDEX "discount_codes_stripe_promo_uq" ON "discount_codes" USING btree ("stripe_promotion_code_id");--> statement-breakpoint
CREATE UNIQUE INDEX "discount_redemptions_session_uq" ON "discount_redemptions" USING btree ("code_id","stripe_checkout_session_id");--> statement-breakpoint
CREATE INDEX "discount_redemptions_user_idx" ON "discount_redemptions" USING btree ("code_id","user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "discount_reservations_session_uq" ON "discount_reservations" USING btree ("stripe_checkout_session_id");--> statement-breakpoint
CREATE INDEX "discount_reservations_code_held_idx" ON "discount_reservations" USING btree ("code_id") WHERE "discount_reservations"."status" = 'held';--> statement-breakpoint
CREATE INDEX "discount_reservations_held_expiry_idx" ON "discount_reservations" USING btree ("expires_at") WHERE "discount_reservations"."status" = 'held';--> statement-breakpoint
CREATE UNIQUE INDEX "subscription_discount_cycles_uq" ON "subscription_discount_cycles" USING btree ("subscription_discount_id","stripe_invoice_id");--> statement-breakpoint
CREATE UNIQUE INDEX "subscription_discounts_running_uq" ON "subscription_discounts" USING btree ("stripe_subscription_id") WHERE "subscription_discounts"."ended_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "subscription_discounts_redemption_uq" ON "subscription_discounts" USING btree ("redemption_id");--> statement-breakpoint
CREATE UNIQUE INDEX "entitlement_usage_idem_uq" ON "entitlement_usage" USING btree ("user_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "entitlement_usage_user_idx" ON "entitlement_usage" USING btree ("user_id","key");--> statement-breakpoint
CREATE UNIQUE INDEX "entitlements_source_uq" ON "entitlements" USING btree ("source_key","item_index");--> statement-breakpoint
CREATE INDEX "entitlements_user_active_idx" ON "entitlements" USING btree ("user_id") WHERE "entitlements"."revoked_at" is null;--> statement-breakpoint
CREATE INDEX "entitlements_user_idx" ON "entitlements" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "entitlements_reference_idx" ON "entitlements" USING btree ("reference_id");--> statement-breakpoint
CREATE INDEX "entitlements_subscription_idx" ON "entitlements" USING btree ("subscription_id");--> statement-breakpoint
CREATE INDEX "entitlements_bucket_idx" ON "entitlements" USING btree ("credit_bucket_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_disputes_stripe_uq" ON "payment_disputes" USING btree ("stripe_dispute_id");--> statement-breakpoint
CREATE INDEX "payment_disputes_payment_idx" ON "payment_disputes" USING btree ("payment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payment_refunds_stripe_uq" ON "payment_refunds" USING btree ("stripe_refund_id");--> statement-breakpoint
CREATE INDEX "payment_refunds_payment_idx" ON "payment_refunds" USING btree ("payment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_checkout_session_uq" ON "payments" USING btree ("stripe_checkout_session_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_invoice_uq" ON "payments" USING btree ("stripe_invoice_id");--> statement-breakpoint
CREATE UNIQUE INDEX "payments_payment_intent_uq" ON "payments" USING btree ("stripe_payment_intent_id");--> statement-breakpoint
CREATE INDEX "payments_user_idx" ON "payments" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "payments_status_idx" ON "payments" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "payments_charge_idx" ON "payments" USING btree ("stripe_charge_id");--> statement-breakpoint
CREATE INDEX "payments_pending_idx" ON "payments" USING btree ("user_id","mode") WHERE "payments"."status" = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "subscription_allowances_uq" ON "subscription_allowances" USING btree ("subscription_id","price_id","period_start","credit_type");--> statement-breakpoint
CREATE UNIQUE INDEX "subscriptions_stripe_uq" ON "subscriptions" USING btree ("stripe_subscription_id");--> statement-breakpoint
CREATE INDEX "subscriptions_user_idx" ON "subscriptions" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "subscriptions_status_idx" ON "subscriptions" USING btree ("status");