/**
 * Each route of the operators' API is declared once, beside its handler: one call registers the
 * express route, the role it requires and its OpenAPI operation (request schemas, answers,
 * errors). The routers are built from these tables, and the OpenAPI document and the metric
 * labels' route patterns are assembled from them (openapi.ts): neither can drift from the routes.
 */
import { Router, type IRouter, type Request, type RequestHandler, type Response } from 'express';
import type { ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import type { Role } from '../domain/schemas';
import { requireRole } from './auth';

/** `public`: served before authentication (app.ts); otherwise the role a token needs. */
export type Access = 'public' | Role;
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 503;
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A route's OpenAPI operation. */
export interface RouteDoc {
  summary: string;
  description?: string;
  access: Access;
  request?: RouteConfig['request'];
  status: number;
  success: ResponseConfig;
  /** A second success answer of the same operation (the deploy's dry run). */
  alternative?: { status: number; success: ResponseConfig };
  /** Besides 401/403/503, which follow from `access`. */
  errors?: ErrorStatus[];
  /** What an error status means on this route, where the default text does not fit. */
  errorDescriptions?: Partial<Record<ErrorStatus, string>>;
}

/** One operation of the document: a method on a path in OpenAPI's form (`/api/v1/deckies/{name}`). */
export interface DocumentedRoute extends RouteDoc {
  method: Method;
  path: string;
  tag: string;
}

/** A route's handler; `ctx` is what its table was registered with. What it throws goes to the error handler. */
export type RouteHandler<Ctx> = (req: Request, res: Response, ctx: Ctx) => void | Promise<void>;

export const json = (schema: z.ZodType) => ({ 'application/json': { schema } });

/** OpenAPI links: where an answer's values go next (clients, and schemathesis's stateful phase, follow them). */
export const lifecycleLink = { GetLifecycle: { operationId: 'getDeckiesLifecycle', parameters: { ids: '$response.body#/lifecycle_ids/0' } } };

/** The routes of one router, under one OpenAPI tag, with the context their handlers share. */
export class RouteTable<Ctx = void> {
  /** In declaration order, one per path of a route declared on several. */
  readonly documented: DocumentedRoute[] = [];
  private readonly declared: { method: Method; paths: string[]; access: Access; handler: RouteHandler<Ctx> }[] = [];

  constructor(private readonly tag: string) {}

  get(path: string | string[], doc: RouteDoc, handler: RouteHandler<Ctx>): void {
    this.declare('get', path, doc, handler);
  }
  post(path: string | string[], doc: RouteDoc, handler: RouteHandler<Ctx>): void {
    this.declare('post', path, doc, handler);
  }
  put(path: string | string[], doc: RouteDoc, handler: RouteHandler<Ctx>): void {
    this.declare('put', path, doc, handler);
  }
  patch(path: string | string[], doc: RouteDoc, handler: RouteHandler<Ctx>): void {
    this.declare('patch', path, doc, handler);
  }
  delete(path: string | string[], doc: RouteDoc, handler: RouteHandler<Ctx>): void {
    this.declare('delete', path, doc, handler);
  }

  /** The routes, each behind its role check, on `target` (an app or a router). */
  register<T extends IRouter>(target: T, ctx: Ctx): T {
    for (const { method, paths, access, handler } of this.declared) {
      const expressPaths = paths.map((p) => p.replace(/\{(\w+)\}/g, ':$1'));
      const handle: RequestHandler = (req, res) => handler(req, res, ctx);
      if (access === 'public') target[method](expressPaths, handle);
      else target[method](expressPaths, requireRole(access), handle);
    }
    return target;
  }

  /** On a router of its own: express answers OPTIONS on these paths itself, with their methods. */
  router(ctx: Ctx): Router {
    return this.register(Router(), ctx);
  }

  private declare(method: Method, path: string | string[], doc: RouteDoc, handler: RouteHandler<Ctx>): void {
    const paths = typeof path === 'string' ? [path] : path;
    this.declared.push({ method, paths, access: doc.access, handler });
    for (const p of paths) this.documented.push({ ...doc, method, path: p, tag: this.tag });
  }
}
