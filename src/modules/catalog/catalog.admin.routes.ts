import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { defineRoute } from '../../http/auth';
import type { AppEnv } from '../../http/env';
import type { createRouter } from '../../http/router';
import {
  body,
  IdParam,
  json,
  PriceBody,
  PricePatchBody,
  PriceSchema,
  ProductBody,
  ProductPatchBody,
  ProductSchema,
} from './catalog.schemas';
import { listPrices, listProducts, listTiers, requirePrice, requireProduct } from './catalog.service';
import { createPrice, archivePrice, updatePrice } from './prices.service';
import { archiveProduct, createProduct, updateProduct } from './products.service';
import { priceJson, productJson } from './views';

const flag = z
  .enum(['true', 'false'])
  .optional()
  .transform((v) => v === 'true');
const admin = { admin: true };

/** Admin products and prices: created in Stripe unless local_only; DELETE archives. */
export function registerCatalogAdminRoutes(app: ReturnType<typeof createRouter>) {
  const productOut = async (c: Context<AppEnv>, id: string) => {
    const db = c.get('deps').db;
    const [product, tierRows, priceRows] = await Promise.all([
      requireProduct(db, id),
      listTiers(db),
      listPrices(db, { productId: id, includeInactive: true }),
    ]);
    return { ...productJson(product, tierRows, admin), prices: priceRows.map((p) => priceJson(p, admin)) };
  };
  const ProductWithPrices = ProductSchema.extend({ prices: z.array(PriceSchema) });

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/products',
        tags: ['admin', 'catalog'],
        summary: 'List products (admin)',
        request: { query: z.object({ include_inactive: flag }) },
        responses: {
          200: json(z.object({ data: z.array(ProductSchema), has_more: z.boolean() }), 'Products'),
        },
      },
    ),
    async (c) => {
      const db = c.get('deps').db;
      const { include_inactive } = c.req.valid('query');
      const [rows, tierRows] = await Promise.all([
        listProducts(db, { includeInactive: include_inactive }),
        listTiers(db),
      ]);
      return c.json({ data: rows.map((p) => productJson(p, tierRows, admin)), has_more: false }, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/products',
        tags: ['admin', 'catalog'],
        summary: 'Create a product (admin; also in Stripe unless local_only)',
        request: body(ProductBody),
        responses: { 201: json(ProductWithPrices, 'Created'), 409: json(z.any(), 'Key taken') },
      },
    ),
    async (c) => {
      const product = await createProduct(c.get('deps'), c.req.valid('json'));
      return c.json(await productOut(c, product.id), 201);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/products/{id}',
        tags: ['admin', 'catalog'],
        summary: 'Get a product with all its prices (admin)',
        request: { params: IdParam },
        responses: { 200: json(ProductWithPrices, 'The product'), 404: json(z.any(), 'Unknown product') },
      },
    ),
    async (c) => c.json(await productOut(c, c.req.valid('param').id), 200),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'patch',
        path: '/admin/products/{id}',
        tags: ['admin', 'catalog'],
        summary: 'Update a product (admin; in Stripe too when it is there)',
        request: { params: IdParam, ...body(ProductPatchBody) },
        responses: { 200: json(ProductWithPrices, 'Updated'), 404: json(z.any(), 'Unknown product') },
      },
    ),
    async (c) => {
      const { id } = c.req.valid('param');
      await updateProduct(c.get('deps'), id, c.req.valid('json'));
      return c.json(await productOut(c, id), 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'delete',
        path: '/admin/products/{id}',
        tags: ['admin', 'catalog'],
        summary: 'Archive a product (admin; products are never deleted)',
        request: { params: IdParam },
        responses: { 200: json(ProductWithPrices, 'Archived'), 404: json(z.any(), 'Unknown product') },
      },
    ),
    async (c) => {
      const { id } = c.req.valid('param');
      await archiveProduct(c.get('deps'), id);
      return c.json(await productOut(c, id), 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/prices',
        tags: ['admin', 'catalog'],
        summary: 'List prices (admin)',
        request: {
          query: z.object({
            product_id: z.uuid().optional(),
            lookup_key: z.string().max(200).optional(),
            include_inactive: flag,
          }),
        },
        responses: { 200: json(z.object({ data: z.array(PriceSchema), has_more: z.boolean() }), 'Prices') },
      },
    ),
    async (c) => {
      const q = c.req.valid('query');
      const rows = await listPrices(c.get('deps').db, {
        productId: q.product_id,
        lookupKey: q.lookup_key,
        includeInactive: q.include_inactive,
      });
      return c.json({ data: rows.map((p) => priceJson(p, admin)), has_more: false }, 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/prices',
        tags: ['admin', 'catalog'],
        summary: 'Create a price (admin; in Stripe unless local_only; extra_metadata validated)',
        request: body(PriceBody),
        responses: {
          201: json(PriceSchema, 'Created'),
          404: json(z.any(), 'Unknown product'),
          409: json(z.any(), 'Lookup key taken'),
        },
      },
    ),
    async (c) => c.json(priceJson(await createPrice(c.get('deps'), c.req.valid('json')), admin), 201),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/prices/{id}',
        tags: ['admin', 'catalog'],
        summary: 'Get a price (admin)',
        request: { params: IdParam },
        responses: { 200: json(PriceSchema, 'The price'), 404: json(z.any(), 'Unknown price') },
      },
    ),
    async (c) => c.json(priceJson(await requirePrice(c.get('deps').db, c.req.valid('param').id), admin), 200),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'patch',
        path: '/admin/prices/{id}',
        tags: ['admin', 'catalog'],
        summary:
          'Update a price (admin). A changed amount, currency, interval or price type makes a new price ' +
          '(answered, with replaces_price_id) and archives this one.',
        request: { params: IdParam, ...body(PricePatchBody) },
        responses: { 200: json(PriceSchema, 'The resulting price'), 404: json(z.any(), 'Unknown price') },
      },
    ),
    async (c) => {
      const { price } = await updatePrice(c.get('deps'), c.req.valid('param').id, c.req.valid('json'));
      return c.json(priceJson(price, admin), 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'delete',
        path: '/admin/prices/{id}',
        tags: ['admin', 'catalog'],
        summary: 'Archive a price (admin; prices are never deleted)',
        request: { params: IdParam },
        responses: { 200: json(PriceSchema, 'Archived'), 404: json(z.any(), 'Unknown price') },
      },
    ),
    async (c) => {
      const { price } = await archivePrice(c.get('deps'), c.req.valid('param').id);
      return c.json(priceJson(price, admin), 200);
    },
  );
}
