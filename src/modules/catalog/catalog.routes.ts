import { z } from '@hono/zod-openapi';
import { defineRoute } from '../../http/auth';
import { createRouter } from '../../http/router';
import { notFound } from '../../lib/errors';
import { registerCatalogAdminRoutes } from './catalog.admin.routes';
import { body, CatalogSchema, IdParam, json, TierBody, TierPatchBody, TierSchema } from './catalog.schemas';
import { getTier, listTiers, publicCatalog } from './catalog.service';
import { createTier, deleteTier, updateTier } from './tiers.service';
import { tierJson } from './views';

/** Public catalog, admin tiers, and (catalog.admin.routes.ts) admin products and prices. */
export function catalogRoutes() {
  const app = createRouter();

  app.openapi(
    defineRoute(
      { auth: 'public' },
      {
        method: 'get',
        path: '/catalog',
        tags: ['catalog'],
        summary: 'Tiers and active products with their active prices (ids are Paywire ids)',
        responses: { 200: json(CatalogSchema, 'The catalog') },
      },
    ),
    async (c) => c.json(await publicCatalog(c.get('deps').db), 200),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/tiers',
        tags: ['admin', 'catalog'],
        summary: 'List tiers (admin)',
        responses: { 200: json(z.object({ data: z.array(TierSchema), has_more: z.boolean() }), 'Tiers') },
      },
    ),
    async (c) => c.json({ data: (await listTiers(c.get('deps').db)).map(tierJson), has_more: false }, 200),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'post',
        path: '/admin/tiers',
        tags: ['admin', 'catalog'],
        summary: 'Create a tier (admin)',
        request: body(TierBody),
        responses: { 201: json(TierSchema, 'Created'), 409: json(z.any(), 'Key taken') },
      },
    ),
    async (c) => c.json(tierJson(await createTier(c.get('deps').db, c.req.valid('json'))), 201),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'get',
        path: '/admin/tiers/{id}',
        tags: ['admin', 'catalog'],
        summary: 'Get a tier (admin)',
        request: { params: IdParam },
        responses: { 200: json(TierSchema, 'The tier'), 404: json(z.any(), 'Unknown tier') },
      },
    ),
    async (c) => {
      const tier = await getTier(c.get('deps').db, c.req.valid('param').id);
      if (!tier) throw notFound('Tier');
      return c.json(tierJson(tier), 200);
    },
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'patch',
        path: '/admin/tiers/{id}',
        tags: ['admin', 'catalog'],
        summary: 'Update a tier (admin; the key cannot change)',
        request: { params: IdParam, ...body(TierPatchBody) },
        responses: { 200: json(TierSchema, 'Updated'), 404: json(z.any(), 'Unknown tier') },
      },
    ),
    async (c) =>
      c.json(tierJson(await updateTier(c.get('deps').db, c.req.valid('param').id, c.req.valid('json'))), 200),
  );

  app.openapi(
    defineRoute(
      { auth: 'admin' },
      {
        method: 'delete',
        path: '/admin/tiers/{id}',
        tags: ['admin', 'catalog'],
        summary: 'Delete an unused tier (admin; 409 when a product or price refers to it)',
        request: { params: IdParam },
        responses: {
          200: json(z.object({ id: z.string(), deleted: z.boolean() }), 'Deleted'),
          404: json(z.any(), 'Unknown tier'),
          409: json(z.any(), 'In use'),
        },
      },
    ),
    async (c) => {
      const { id } = c.req.valid('param');
      await deleteTier(c.get('deps').db, id);
      return c.json({ id, deleted: true }, 200);
    },
  );

  registerCatalogAdminRoutes(app);
  return app;
}
