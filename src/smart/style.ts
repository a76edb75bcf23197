/**
 * The default `smart_style_url` document of every project (SMART App Launch "Styling": colours, fonts and
 * spacing an app may adopt to blend in). Public and cacheable; SMART_STYLE_URL points token responses elsewhere.
 */
import type { Request, Response } from 'express';

/** The style parameters. */
export const SMART_STYLE = {
  color_background: '#f8f9fa',
  color_error: '#b00020',
  color_highlight: '#0b5cad',
  color_modal_backdrop: 'rgba(0, 0, 0, 0.5)',
  color_success: '#1e7a34',
  color_text: '#1f2328',
  dim_border_radius: '6px',
  dim_font_size: '16px',
  dim_spacing_size: '16px',
  font_family_body: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  font_family_heading: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
} as const;

/**
 * `GET {issuer}/api/v1/oauth/smart-style.json`
 * @param _req - the request
 * @param res - the response
 */
export function smartStyleHandler(_req: Request, res: Response): void {
  res.setHeader('Cache-Control', 'public, max-age=3600');
  res.json(SMART_STYLE);
}
